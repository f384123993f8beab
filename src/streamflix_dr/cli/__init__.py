"""The ``streamflix-dr`` command line: thin click commands over the library."""
