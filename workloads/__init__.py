"""workloads: the ReplicaSet, Deployment and HorizontalPodAutoscaler controllers (pure planners
in workloads/replicaset.py, workloads/deployment.py and workloads/hpa.py, their loops in
workloads/rs_controller.py, workloads/deploy_controller.py and workloads/hpa_controller.py)."""

from workloads.deploy_controller import DeploymentController
from workloads.deployment import DeploymentPlan
from workloads.hpa_controller import HpaController
from workloads.hpa_metrics import HpaConfig
from workloads.replicaset import ReplicaSetPlan, plan
from workloads.rs_controller import ReplicaSetController

__all__ = ["DeploymentController", "DeploymentPlan", "HpaConfig", "HpaController", "ReplicaSetController",
           "ReplicaSetPlan", "plan"]
