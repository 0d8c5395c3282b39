"""What the tests share: the app in-process and on a socket, the proofs' instruments, the database's administration, fault stand-ins."""
