"""The project's own optimizers, for methods no well-kept library provides as torch optimizers:
SVRG and SAGA (noise reduction), Newton-CG (Hessian-free) and K-FAC. Each is a torch.optim.Optimizer
with a step(closure), tested against the mathematics in tests/."""
from .kfac import KFAC
from .newton_cg import NewtonCG
from .variance_reduction import SAGA, SVRG

__all__ = ["KFAC", "NewtonCG", "SAGA", "SVRG"]
