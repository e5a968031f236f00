"""The top floor: the `leadrelay` command line, the supervisor behind `make run`, and the demo set-up.
It may import any service; nothing imports it."""
