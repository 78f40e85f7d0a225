"""What operators and load balancers see: request ids, JSON logs, health, metrics."""
