"""Muon where it applies, AdamW elsewhere, as one optimizer."""
from __future__ import annotations

import torch


class MuonWithAdamW(torch.optim.Optimizer):
    """torch.optim.Muon on the hidden layers' 2-D weights; AdamW on the rest (convolution kernels,
    biases and the output layer), as Muon's documentation prescribes. Muon's update is scaled to
    match AdamW's RMS (adjust_lr_fn="match_rms_adamw"), so that one lr and weight decay serve both.
    The two share this optimizer's parameter groups and state, so that schedulers and the
    sparsifier see both."""

    def __init__(self, named_params, lr: float, weight_decay: float = 0.0, momentum: float = 0.95,
                 betas=(0.9, 0.999), output_layer: str = "fc3"):
        named = list(named_params)
        hidden = [p for n, p in named if p.ndim == 2 and not n.startswith(f"{output_layer}.")]
        rest = [p for n, p in named if not (p.ndim == 2 and not n.startswith(f"{output_layer}."))]
        self.muon = torch.optim.Muon(hidden, lr=lr, weight_decay=weight_decay, momentum=momentum,
                                     adjust_lr_fn="match_rms_adamw")
        self.adamw = torch.optim.AdamW(rest, lr=lr, weight_decay=weight_decay, betas=betas)
        super().__init__([*self.muon.param_groups, *self.adamw.param_groups], {})
        self.muon.param_groups, self.adamw.param_groups = self.param_groups[:1], self.param_groups[1:]
        self.muon.state = self.adamw.state = self.state

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        self.muon.step()
        self.adamw.step()
        return loss
