# Settings modules: base (common to every environment) and prod (the
# container: everything that varies comes from environment variables).
