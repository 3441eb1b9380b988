"""tugboat control plane: API objects, store, server, client, CLI, scheduler and the Ray runtime."""
