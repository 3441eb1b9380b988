"""workloads: the ReplicaSet and Deployment controllers (pure planners in
workloads/replicaset.py and workloads/deployment.py, their loops in workloads/rs_controller.py
and workloads/deploy_controller.py)."""

from workloads.deploy_controller import DeploymentController
from workloads.deployment import DeploymentPlan
from workloads.replicaset import ReplicaSetPlan, plan
from workloads.rs_controller import ReplicaSetController

__all__ = ["DeploymentController", "DeploymentPlan", "ReplicaSetController", "ReplicaSetPlan", "plan"]
