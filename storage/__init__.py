"""Storage: PersistentVolumeClaims, PersistentVolumes and the local-path provisioner."""
