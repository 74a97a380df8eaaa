"""The in-browser separation page (static files) and its server, ``musicsep web``."""
