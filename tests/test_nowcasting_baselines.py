"""Persistence and optical-flow extrapolation baselines."""

import numpy as np
import pytest
import tensorflow as tf

from scs_keras.data.precipitation import make_precipitation_dataset
from scs_keras.data.synthetic.rain import write_hdf5
from scs_keras.metrics import nowcasting as N
from scs_keras.tasks.precipitation import baselines as B

H = W = 32


def blob(cx, cy, sigma=3.0, amp=0.8):
    y, x = np.mgrid[0:H, 0:W]
    return amp * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma ** 2))


def centroid(img):
    y, x = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    m = img.sum()
    return (x * img).sum() / m, (y * img).sum() / m


def translating_blob(dx, dy, frames=8, start=(7.0, 9.0)):
    """(1, frames, H, W, 1): a blob moving by (dx, dy) pixels per frame."""
    seq = np.stack([blob(start[0] + dx * t, start[1] + dy * t) for t in range(frames)])
    return seq[None, ..., None].astype(np.float32)


def test_persistence_repeats_the_last_frame_exactly():
    x = np.random.default_rng(0).random((3, 4, 8, 8, 1)).astype(np.float32)
    out = B.persistence_forecast(x, 5)
    assert out.shape == (3, 5, 8, 8, 1) and out.dtype == np.float32
    for k in range(5):
        np.testing.assert_array_equal(out[:, k], x[:, -1])
    np.testing.assert_array_equal(B.PersistenceModel(5).predict(x), out)


@pytest.mark.parametrize("method", ["farneback", "dis"])
@pytest.mark.parametrize("shift", [(2, 1), (-1, 2)])
def test_flow_extrapolation_follows_a_translating_blob(method, shift):
    dx, dy = shift
    start = (20.0, 9.0) if dx < 0 else (7.0, 9.0)
    seq = translating_blob(dx, dy, frames=8, start=start)
    inputs, targets = seq[:, :4], seq[:, 4:]
    fc = B.optical_flow_forecast(inputs, 4, method=method)
    assert fc.shape == targets.shape
    for k in range(4):
        cx, cy = centroid(fc[0, k, ..., 0])
        ex, ey = start[0] + dx * (4 + k), start[1] + dy * (4 + k)
        assert abs(cx - ex) < 1.0 and abs(cy - ey) < 1.0, (k, cx, cy, ex, ey)
    persistence = B.persistence_forecast(inputs, 4)
    mse_flow = np.mean((fc - targets) ** 2)
    mse_pers = np.mean((persistence - targets) ** 2)
    assert mse_flow < 0.1 * mse_pers


def test_motion_field_recovers_the_shift_and_zero_motion():
    seq = translating_blob(2, 1)[0, :4, ..., 0]
    flow = B.estimate_motion(seq, flow_frames=3)
    # Backward flow: the echo at p was at p + f one step earlier, i.e. f = -shift.
    core = blob(*centroid(seq[-1])) > 0.4
    assert np.allclose(flow[core].mean(axis=0), [-2.0, -1.0], atol=0.3)
    still = np.repeat(seq[-1:], 3, axis=0)
    fc = B.semi_lagrangian_extrapolate(still[-1], B.estimate_motion(still), steps=3)
    np.testing.assert_allclose(fc, np.repeat(still[-1:], 3, axis=0), atol=1e-3)


def test_semi_lagrangian_integer_shift_is_exact_and_fills_outside():
    img = np.zeros((H, W), np.float32)
    img[10, 12] = 1.0
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = -3.0     # backward flow -3 in x: the field moves +3 px per step
    out = B.semi_lagrangian_extrapolate(img, flow, steps=2, outside_value=0.25)
    assert out[0, 10, 15] == pytest.approx(1.0) and out[1, 10, 18] == pytest.approx(1.0)
    assert out[0, 10, 12] == 0.0
    # The three left columns are advected in from outside the image.
    np.testing.assert_allclose(out[0, :, :3], 0.25)
    np.testing.assert_allclose(out[1, :, :6], 0.25)


def test_flow_baseline_beats_persistence_on_synthetic_rain(tmp_path):
    m = write_hdf5(str(tmp_path / "rain.h5"), num_events=3, frames_per_event=12, height=48,
                   width=48, seed=2, progress=False)
    ds, _ = make_precipitation_dataset(m["path"], 4, 4, stride=4, batch_size=4)
    metrics_flow = [N.NowcastMSE(lead_times=4, per_lead=True), N.CSI(30.0, lead_times=4)]
    metrics_pers = [N.NowcastMSE(lead_times=4, per_lead=True), N.CSI(30.0, lead_times=4)]
    flow = B.OpticalFlowModel(4, flow_frames=3).evaluate(ds, metrics_flow)
    pers = B.PersistenceModel(4).evaluate(ds, metrics_pers)
    assert set(flow) == {"mse", "csi_30dbz"} and len(flow["mse"]) == 4
    assert np.mean(flow["mse"]) < np.mean(pers["mse"])
    assert flow["csi_30dbz"] > pers["csi_30dbz"]
    # Persistence error grows with lead time on moving rain.
    assert pers["mse"][-1] > pers["mse"][0]


def test_predict_accepts_arrays_tensors_and_datasets():
    seq = np.concatenate([translating_blob(1, 1), translating_blob(-1, 0, start=(20.0, 12.0))])
    inputs, targets = seq[:, :4], seq[:, 4:]
    model = B.OpticalFlowModel(4, method="dis")
    direct = B.optical_flow_forecast(inputs, 4, method="dis")
    np.testing.assert_allclose(model.predict(inputs), direct)
    np.testing.assert_allclose(model.predict(tf.constant(inputs), batch_size=1), direct)
    ds_pairs = tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(1)
    np.testing.assert_allclose(model.predict(ds_pairs), direct)
    ds_inputs = tf.data.Dataset.from_tensor_slices(inputs).batch(2)
    np.testing.assert_allclose(model.predict(ds_inputs), direct)
    np.testing.assert_allclose(model(inputs), direct)
    res = model.evaluate((inputs, targets), [N.NowcastMAE(lead_times=4, lead_time=0)],
                         batch_size=1)
    assert res["mae_lead0"] == pytest.approx(float(np.mean(np.abs(direct[:, 0] - targets[:, 0]))),
                                             rel=1e-5)


def test_bad_arguments_raise_clear_errors():
    x = np.zeros((1, 3, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match=r"\(batch, N, H, W, 1\)"):
        B.persistence_forecast(x[0], 2)
    with pytest.raises(ValueError, match="target_frames"):
        B.persistence_forecast(x, 0)
    with pytest.raises(ValueError, match="method"):
        B.OpticalFlowModel(2, method="lucas-kanade")
    with pytest.raises(ValueError, match="flow_frames=4"):
        B.optical_flow_forecast(x, 2, flow_frames=4)
    with pytest.raises(ValueError, match="Farneback parameter"):
        B.optical_flow_forecast(x, 2, flow_params={"window": 5})
    bad = x.copy()
    bad[0, 1, 2, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        B.optical_flow_forecast(bad, 2)
    with pytest.raises(ValueError, match="needs targets"):
        B.PersistenceModel(2).evaluate(tf.data.Dataset.from_tensor_slices(x).batch(1),
                                       [N.NowcastMSE()])
    with pytest.raises(ValueError, match="differs from targets"):
        B.PersistenceModel(2).evaluate((x, np.zeros((1, 3, 8, 8, 1))), [N.NowcastMSE()])
