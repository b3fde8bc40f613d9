"""Business rules and I/O. Services take `*, session` and never import Strawberry."""
