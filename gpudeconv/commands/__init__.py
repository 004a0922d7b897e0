"""The ``gpudeconv`` command line: the parser in :mod:`.main`, one module per
subcommand."""
