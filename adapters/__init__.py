"""I/O around the routing core: configuration files, CLI, HTTP service, storage."""
