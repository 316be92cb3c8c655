"""The pruning audit: successive halving replayed offline on hand-made curves with a known answer."""
import optuna
import pandas as pd
import pytest

from lenet_bench.tuning import audit

EPOCHS = 4
# Validation accuracy after epochs 1, 2, 3 and 4. Trial 1 starts slowest and ends best (a warm-up).
CURVES = {0: [0.50, 0.60, 0.70, 0.80], 1: [0.40, 0.45, 0.60, 0.95], 2: [0.70, 0.70, 0.80, 0.85],
          3: [0.60, 0.65, 0.75, 0.90]}


def table(curves=CURVES) -> pd.DataFrame:
    rows = []
    for number, accuracies in curves.items():
        row = {"number": number, "state": "COMPLETE", "epochs": len(accuracies)}
        for epoch, accuracy in enumerate(accuracies, start=1):
            row[f"val_accuracy@{epoch}"], row[f"val_loss@{epoch}"] = accuracy, 1 - accuracy
        rows.append(row)
    return pd.DataFrame(rows)


def test_successive_halving_by_hand():
    # Rungs 1 and 2, halving. Epoch 1: trial 0 goes on (alone); 1 is not the best of two; 2 is the best of
    # three; 3 is in the top half of four. Epoch 2: 0 alone, 2 the best of two, 3 not the best of three.
    result = audit.replay(table(), rungs=[1, 2], reduction_factor=2, epochs=EPOCHS)
    assert result == audit.Replay(picked=2, epochs=4 + 1 + 4 + 2, regret=pytest.approx(0.10))
    assert audit.replay(table(), rungs=[], reduction_factor=2, epochs=EPOCHS) == audit.Replay(1, 16, 0.0)


def test_the_replay_prunes_what_optunas_pruner_prunes():
    for min_epochs, factor in ((1, 2), (1, 3), (2, 2)):
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=min_epochs, reduction_factor=factor,
                                                        min_early_stopping_rate=0)
        study = optuna.create_study(direction="maximize", pruner=pruner)
        spent = 0
        for accuracies in CURVES.values():
            trial = study.ask()
            for epoch, accuracy in enumerate(accuracies, start=1):
                trial.report(accuracy, epoch)
                spent += 1
                if epoch < EPOCHS and trial.should_prune():
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    break
            else:
                study.tell(trial, accuracies[-1])
        rungs = audit.schedule_rungs(min_epochs, factor, EPOCHS)
        result = audit.replay(table(), rungs, factor, EPOCHS)
        assert (result.picked, result.epochs) == (study.best_trial.number, spent), (min_epochs, factor)


def test_a_nan_is_pruned_and_a_diverged_trial_costs_only_what_it_trained():
    curves = {0: [0.5, 0.6, 0.7, 0.8], 1: [float("nan")] * 4, 2: [0.6, 0.7]}
    trials = table(curves)
    result = audit.replay(trials, rungs=[1], reduction_factor=2, epochs=EPOCHS)
    assert result == audit.Replay(picked=0, epochs=4 + 1 + 2, regret=0.0)


def test_the_rungs_stop_before_the_last_epoch():
    assert audit.schedule_rungs(1, 3, 10) == [1, 3, 9]
    assert audit.schedule_rungs(5, 2, 10) == [5]
    assert audit.schedule_rungs(1, 3, 3) == [1]
    assert audit.schedule_rungs(5, 2, 5) == []


def test_the_cheapest_schedule_within_the_bound_on_every_preset_is_chosen():
    settings = {"min_epochs": [1, 2], "reduction_factors": [2, 3]}
    late_bloomer, steady = table(), table({n: [0.5 + n / 100 + e / 100 for e in range(4)] for n in range(4)})
    replays = audit.audit({"late": late_bloomer, "steady": steady}, settings, EPOCHS)
    assert set(replays["rungs"]) == {"none", "1 2", "1 3", "2"}
    # The late bloomer loses 10 points to every schedule that judges it at epoch 1 or 2, so within 0.1
    # points nothing prunes; within 15, the cheapest schedule does.
    assert audit.chosen(replays, max_regret=0.001) == "none"
    summary = audit.summary(replays, max_regret=0.15)
    cheapest = summary[summary["min_epochs"].notna()].iloc[0]
    assert audit.chosen(replays, max_regret=0.15) == {"min_epochs": int(cheapest["min_epochs"]),
                                                      "reduction_factor": int(cheapest["reduction_factor"])}
    assert cheapest["epochs"] == summary["epochs"].min()
    text = audit.markdown(replays, max_regret=0.001)
    assert text.splitlines()[0].startswith("| first rung | factor | rungs | late: regret, epochs | steady: ")
    assert len(text.splitlines()) == 2 + 5  # header, rule, four schedules and none


def test_the_table_reads_the_same_from_its_csv(tmp_path):
    replays = audit.audit({"late": table()}, {"min_epochs": [1], "reduction_factors": [2]}, EPOCHS)
    replays.to_csv(tmp_path / "audit.csv", index=False)
    assert audit.markdown(pd.read_csv(tmp_path / "audit.csv"), 0.001) == audit.markdown(replays, 0.001)
    assert "| 1 | 2 | 1 2 |" in audit.markdown(replays, 0.001)
