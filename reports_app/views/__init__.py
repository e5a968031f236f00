"""The reports app's pages: each module has `render(db, user)`."""
