"""The pure core: money, order types, pricing, status machine, refund rules.

Nothing here does I/O or imports a framework or a database driver.
"""
