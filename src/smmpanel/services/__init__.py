"""Use cases. Each public function is one transaction (or one statement) and
takes the ``Panel`` context first; entrypoints (API, CLI, worker) call these
and only translate in and out."""
