pytest_plugins = ["storage.testing"]
