"""The project's own optimizers, for methods no well-kept library provides as torch optimizers:
SVRG and SAGA (noise reduction), Newton-CG (Hessian-free) and K-FAC, and Muon beside AdamW as one
optimizer. Each is a torch.optim.Optimizer with a step(closure), tested in tests/."""
from .kfac import KFAC
from .muon import MuonWithAdamW
from .newton_cg import NewtonCG
from .variance_reduction import SAGA, SVRG

__all__ = ["KFAC", "MuonWithAdamW", "NewtonCG", "SAGA", "SVRG"]
