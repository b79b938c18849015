"""Platform endpoints: health for the load balancer, readiness, metrics."""
