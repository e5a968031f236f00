"""Notifications to the role: conditions (pure), the facts they read, their store, and the notifier
loop the console's scheduler process runs."""
