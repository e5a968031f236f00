"""`make run`'s demo set-up, each part through the public gRPC API with the demo key."""
