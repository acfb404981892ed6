"""Cloud-neutral parts of the Pulumi program: config, scaling policy, the fleet component."""
