"""Payment methods: adapters behind one interface (``base.py``).

* ``manual``: funds requests approved by an operator;
* ``bank_transfer``: VietQR bank transfers, credited by SePay's webhook
  (``webhook.py`` mounts it on the app).

A card or crypto gateway is one more ``NotifiedMethod`` (see README).
"""
