"""Teaching labs: the lab catalogue (read from ``labs/*.md``), set-up and checks.

The Markdown files are the one place a lab's steps live: ``clinflow lab start`` prints the
first ```` ```sh step ```` block, CI runs every step block as written, and the checker
verifies the result the steps and the exercise leave in the lab's data directory.
"""
