"""Live activity over WebSocket: the graphql-transport-ws transport and the fan-out."""
