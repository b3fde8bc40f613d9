"""Thin glue between the GraphQL schema and the services: the request Context, DataLoaders,
and functions that decode arguments, call a service and hand back what it returned."""
