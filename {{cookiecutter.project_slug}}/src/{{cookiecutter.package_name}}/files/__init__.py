"""Files under FILES_DIR: the store the `/sync/files` routes read and write with `open()`."""
