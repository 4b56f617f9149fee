"""newsbot's decision logic: plain data in, plain data out; no I/O libraries imported here."""
