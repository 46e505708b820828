"""Nowcasting metrics against hand-counted contingency tables and hand sums."""

import math

import keras
import numpy as np
import pytest

from scs_keras.metrics import nowcasting as N

THR = 30.0                      # dBZ
T_UNIT = (THR + 10.0) / 70.0    # 0.5714...: the threshold on the [0, 1] scale
HI, LO = 0.9, 0.1               # clearly above / below the threshold


def seq(*frames):
    """Frames given as nested lists (lead, H, W) -> (1, lead, H, W, 1) float32."""
    return np.asarray(frames, np.float32)[None, ..., None]


# Two lead times of 2 x 2 pixels.  Pixel by pixel (obs, fc):
#   lead 0: (HI,HI)=TP  (HI,LO)=FN  (LO,HI)=FP  (T,T)=TP   -> TP 2, FP 1, FN 1, TN 0
#   lead 1: (LO,LO)=TN  (HI,HI)=TP  (LO,LO)=TN  (LO,HI)=FP -> TP 1, FP 1, FN 0, TN 2
# The value exactly at the threshold counts as an event (>=).
Y_TRUE = seq([[HI, HI], [LO, T_UNIT]], [[LO, HI], [LO, LO]])
Y_PRED = seq([[HI, LO], [HI, T_UNIT]], [[LO, HI], [LO, HI]])
COUNTS = {"tp": [2, 1], "fp": [1, 1], "fn": [1, 0], "tn": [0, 2]}


def hand_scores(tp, fp, fn, tn):
    return {
        "csi": tp / (tp + fp + fn),
        "pod": tp / (tp + fn),
        "far": fp / (tp + fp),
        "hss": 2 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)),
    }


def test_contingency_counts_match_hand_count():
    m = N.CSI(THR, lead_times=2)
    m.update_state(Y_TRUE, Y_PRED)
    counts = {k: v.numpy().tolist() for k, v in m.result_counts().items()}
    assert counts == COUNTS


@pytest.mark.parametrize("score", ["csi", "hss", "pod", "far"])
def test_scores_per_lead_and_mean_match_hand_formulas(score):
    cls = {"csi": N.CSI, "hss": N.HSS, "pod": N.POD, "far": N.FAR}[score]
    lead0 = hand_scores(2, 1, 1, 0)[score]
    lead1 = hand_scores(1, 1, 0, 2)[score]
    # Literal values, computed by hand from the tables above.
    literal = {"csi": (2 / 4, 1 / 2), "pod": (2 / 3, 1 / 1), "far": (1 / 3, 1 / 2),
               "hss": (2 * (0 - 1) / (3 * 1 + 3 * 1), 2 * (2 - 0) / (1 * 2 + 2 * 3))}[score]
    assert (lead0, lead1) == pytest.approx(literal)

    vec = cls(THR, lead_times=2, per_lead=True)
    vec.update_state(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(vec.result().numpy(), [lead0, lead1], rtol=1e-6)
    mean = cls(THR, lead_times=2)
    mean.update_state(Y_TRUE, Y_PRED)
    assert float(mean.result()) == pytest.approx((lead0 + lead1) / 2, rel=1e-6)
    one = cls(THR, lead_times=2, lead_time=1)
    one.update_state(Y_TRUE, Y_PRED)
    assert float(one.result()) == pytest.approx(lead1, rel=1e-6)
    assert one.name == f"{score}_30dbz_lead1"
    pooled = cls(THR)  # lead_times=None: one table over all leads
    pooled.update_state(Y_TRUE, Y_PRED)
    assert float(pooled.result()) == pytest.approx(hand_scores(3, 2, 1, 2)[score], rel=1e-6)


def test_accumulation_over_batches_equals_one_combined_batch():
    rng = np.random.default_rng(0)
    y = rng.random((6, 3, 12, 12, 1)).astype(np.float32)
    p = np.clip(y + rng.normal(0, 0.2, y.shape), 0, 1).astype(np.float32)
    for make in (lambda: N.HSS(THR, lead_times=3, per_lead=True),
                 lambda: N.NowcastMSE(lead_times=3, per_lead=True),
                 lambda: N.NowcastMAE(lead_times=3, per_lead=True),
                 lambda: N.NowcastSSIM(lead_times=3, per_lead=True)):
        split, whole = make(), make()
        split.update_state(y[:2], p[:2])
        split.update_state(y[2:], p[2:])
        whole.update_state(y, p)
        np.testing.assert_allclose(split.result().numpy(), whole.result().numpy(), rtol=1e-6)


def test_scores_come_from_summed_counts_not_averaged_batch_scores():
    # Batch 1: 1 hit of 1 event (CSI 1).  Batch 2: 1 hit, 3 misses (CSI 1/4).
    b1_t, b1_p = seq([[HI, LO]]), seq([[HI, LO]])
    b2_t, b2_p = seq([[HI, HI, HI, HI]]), seq([[HI, LO, LO, LO]])
    m = N.CSI(THR, lead_times=1)
    m.update_state(b1_t, b1_p)
    m.update_state(b2_t, b2_p)
    assert float(m.result()) == pytest.approx(2 / 5)   # (1 + 1) / (1 + 1 + 3)
    assert float(m.result()) != pytest.approx((1 + 0.25) / 2)


def test_zero_division_nan_by_default_or_chosen_value():
    empty = seq([[LO, LO]], [[LO, LO]])           # no event observed or forecast
    for cls in (N.CSI, N.POD, N.FAR, N.HSS):
        m = cls(THR, lead_times=2, per_lead=True)
        m.update_state(empty, empty)
        assert np.isnan(m.result().numpy()).all(), cls.__name__
        assert math.isnan(float(cls(THR, lead_times=2).result()))  # nothing seen at all
    zero = N.CSI(THR, lead_times=2, zero_division=0.0)
    zero.update_state(empty, empty)
    assert float(zero.result()) == 0.0
    # Only correct negatives: HSS's denominator (TP+FN)(FN+TN) + (TP+FP)(FP+TN)
    # is 0 * 4 + 0 * 4 = 0, so it also takes zero_division.
    hss = N.HSS(THR, zero_division=1.0)
    hss.update_state(empty, empty)
    assert float(hss.result()) == 1.0


def test_mean_over_leads_skips_undefined_leads():
    # Lead 0: CSI 1/2; lead 1: no events at all (undefined).
    y = seq([[HI, HI]], [[LO, LO]])
    p = seq([[HI, LO]], [[LO, LO]])
    m = N.CSI(THR, lead_times=2)
    m.update_state(y, p)
    assert float(m.result()) == pytest.approx(0.5)
    per_lead = m.result_per_lead().numpy()
    assert per_lead[0] == pytest.approx(0.5) and np.isnan(per_lead[1])


def test_rain_rate_thresholds():
    # 2 mm/h -> Z = 200 * 2^1.6 -> dBZ = 10 log10 Z -> x = (dBZ + 10) / 70.
    t = (10 * math.log10(200 * 2 ** 1.6) + 10) / 70
    y = seq([[t + 0.01, t - 0.01]])
    m = N.POD(2.0, threshold_units="mm/h")
    assert m.name == "pod_2mmh"
    m.update_state(y, y)
    assert float(m.result()) == 1.0
    assert m.result_counts()["tp"].numpy().tolist() == [1.0]
    assert m.result_counts()["tn"].numpy().tolist() == [1.0]


def test_sample_weight_mask_weights_the_counts():
    mask = np.ones_like(Y_TRUE)
    mask[0, 0, 0, 1] = 0.0          # hide lead 0's miss
    m = N.CSI(THR, lead_times=2)
    m.update_state(Y_TRUE, Y_PRED, sample_weight=mask)
    assert m.result_counts()["fn"].numpy().tolist() == [0.0, 0.0]
    assert m.result_counts()["tp"].numpy().tolist() == [2.0, 1.0]
    w = N.CSI(THR, lead_times=2)
    w.update_state(np.concatenate([Y_TRUE, Y_TRUE]), np.concatenate([Y_PRED, Y_PRED]),
                   sample_weight=np.array([1.0, 0.0]))
    assert w.result_counts()["tp"].numpy().tolist() == [2.0, 1.0]


def test_mse_mae_per_lead_by_hand():
    y = seq([[0.0, 0.5]], [[1.0, 1.0]])
    p = seq([[0.5, 0.5]], [[0.0, 0.8]])
    mse = N.NowcastMSE(lead_times=2, per_lead=True)
    mae = N.NowcastMAE(lead_times=2, per_lead=True)
    for m in (mse, mae):
        m.update_state(y, p)
    # lead 0: errors 0.5, 0 -> MSE 0.125, MAE 0.25; lead 1: errors 1, 0.2 -> MSE 0.52, MAE 0.6
    np.testing.assert_allclose(mse.result().numpy(), [0.125, 0.52], rtol=1e-6)
    np.testing.assert_allclose(mae.result().numpy(), [0.25, 0.6], rtol=1e-6)
    mean = N.NowcastMSE(lead_times=2)
    mean.update_state(y, p)
    assert float(mean.result()) == pytest.approx((0.125 + 0.52) / 2, rel=1e-6)
    dbz = N.NowcastMAE(lead_times=2, lead_time=0, units="dbz")
    dbz.update_state(y, p)
    assert float(dbz.result()) == pytest.approx(0.25 * 70, rel=1e-6)
    pix = N.NowcastMSE(units="pixel")
    pix.update_state(y, p)
    assert float(pix.result()) == pytest.approx((0.25 + 0 + 1 + 0.04) / 4 * 255 ** 2, rel=1e-5)


def test_ssim_identical_is_one_and_different_is_less():
    rng = np.random.default_rng(1)
    y = rng.random((2, 3, 16, 16, 1)).astype(np.float32)
    m = N.NowcastSSIM(lead_times=3, per_lead=True)
    m.update_state(y, y)
    np.testing.assert_allclose(m.result().numpy(), [1.0, 1.0, 1.0], atol=1e-5)
    d = N.NowcastSSIM(lead_times=3, per_lead=True)
    noisy = np.clip(y + np.array([0.0, 0.1, 0.3])[None, :, None, None, None], 0, 1)
    d.update_state(y, noisy.astype(np.float32))
    r = d.result().numpy()
    assert r[0] == pytest.approx(1.0, abs=1e-5) and r[0] > r[1] > r[2]
    with pytest.raises(ValueError, match="filter_size"):
        N.NowcastSSIM().update_state(y[:, :, :8, :8], y[:, :, :8, :8])
    small = N.NowcastSSIM(filter_size=3)
    small.update_state(y[:, :, :8, :8], y[:, :, :8, :8])
    assert float(small.result()) == pytest.approx(1.0, abs=1e-5)


def test_reset_state_clears_every_metric():
    metrics = N.nowcasting_metrics(lead_times=2, thresholds=(20.0,), ssim_filter_size=1)
    assert [m.name for m in metrics] == ["csi_20dbz", "hss_20dbz", "pod_20dbz", "far_20dbz",
                                         "mse", "mae", "ssim"]
    for m in metrics:
        m.update_state(Y_TRUE, Y_PRED)
        assert not all(float(np.sum(v.numpy())) == 0 for v in m.variables)
        m.reset_state()
        assert all(float(np.sum(v.numpy())) == 0 for v in m.variables)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"\(batch, lead, H, W, 1\)"):
        N.CSI(THR).update_state(Y_TRUE[0], Y_PRED[0])
    with pytest.raises(ValueError, match="lead_times=3"):
        N.CSI(THR, lead_times=3).update_state(Y_TRUE, Y_PRED)
    with pytest.raises(ValueError, match="need lead_times"):
        N.CSI(THR, per_lead=True)
    with pytest.raises(ValueError, match="lead_time must be"):
        N.CSI(THR, lead_times=2, lead_time=2)
    with pytest.raises(TypeError, match="single number"):
        N.CSI([20.0, 30.0])
    with pytest.raises(ValueError, match="score"):
        N.ContingencyScore("ets", THR)
    with pytest.raises(ValueError, match="units"):
        N.NowcastMSE(units="mm")
    with pytest.raises(ValueError, match="zero_division"):
        N.CSI(THR, zero_division="zero")


def test_config_round_trip_and_keras_serialization():
    m = N.HSS(0.5, lead_times=4, per_lead=True, threshold_units="mm/h", zero_division=0.0)
    cfg = m.get_config()
    assert cfg["threshold"] == 0.5 and cfg["lead_times"] == 4 and cfg["per_lead"] is True
    clone = N.HSS.from_config(cfg)
    assert (clone.name, clone.unit_threshold, clone.lead_times) == (m.name, m.unit_threshold, 4)
    for metric in (N.CSI(THR, lead_times=2, lead_time=0), N.NowcastSSIM(filter_size=5),
                   N.NowcastMAE(units="dbz"), N.ContingencyScore("far", 40.0)):
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(metric))
        assert type(restored) is type(metric) and restored.get_config() == metric.get_config()


def test_metrics_work_in_model_evaluate():
    inp = keras.Input((2, 2, 2, 1))
    model = keras.Model(inp, keras.layers.Identity()(inp))
    model.compile(loss="mse", metrics=[N.CSI(THR, lead_times=2), N.POD(THR, lead_times=2),
                                       N.NowcastMSE(lead_times=2)])
    res = model.evaluate(Y_PRED, Y_TRUE, verbose=0, return_dict=True)
    # Identity model: predictions are Y_PRED, so the hand table applies.
    assert res["csi_30dbz"] == pytest.approx((2 / 4 + 1 / 2) / 2, rel=1e-6)
    assert res["pod_30dbz"] == pytest.approx((2 / 3 + 1) / 2, rel=1e-6)
    assert res["mse"] == pytest.approx(float(np.mean((Y_PRED - Y_TRUE) ** 2)), rel=1e-5)
