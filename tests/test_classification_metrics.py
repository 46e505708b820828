"""Top-k accuracy, mean AP and clip scoring (scs_keras.metrics.classification)."""

import numpy as np
import pytest
import tensorflow as tf

from scs_keras.metrics.classification import (
    MeanAveragePrecision,
    TopKAccuracy,
    average_precision,
    clip_log_scores,
    mean_average_precision,
)

# Hand-worked example (3 real classes + one class that never occurs).
#   class 0 column: ranking s0(.7,+) s4(.5,-) s3(.4,+) s1(.3,-) s2(.1,-)
#                   AP = (1/1 + 2/3) / 2 = 5/6
#   class 1 column: ranking s1(.5,+) s3(.4,-) s2(.3,-) s0(.2,-) s4(.1,+)
#                   AP = (1/1 + 2/5) / 2 = 0.7
#   class 2 column: s2 (.6) ranks first and is the only positive: AP = 1
#   class 3: no positive -> excluded
LABELS = np.array([0, 1, 2, 0, 1])
SCORES = np.array([
    [0.7, 0.2, 0.1, 0.0],
    [0.3, 0.5, 0.2, 0.0],
    [0.1, 0.3, 0.6, 0.0],
    [0.4, 0.4, 0.2, 0.0],
    [0.5, 0.1, 0.4, 0.0],
], np.float32)
HAND_APS = [5 / 6, 0.7, 1.0]
HAND_MAP = sum(HAND_APS) / 3


def test_numpy_average_precision_hand_examples():
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6]) == pytest.approx(5 / 6)
    # Ties form one threshold: {0.9}: P=0; {0.8, 0.8}: 1 hit of 3, dR=1/2;
    # {0.1}: 2 hits of 4, dR=1/2  ->  AP = 1/2 * 1/3 + 1/2 * 1/2 = 5/12.
    assert average_precision([0, 1, 0, 1], [0.9, 0.8, 0.8, 0.1]) == pytest.approx(5 / 12)
    assert np.isnan(average_precision([0, 0], [0.1, 0.2]))
    assert mean_average_precision(LABELS, SCORES) == pytest.approx(HAND_MAP)


def test_map_metric_matches_hand_computed_and_excludes_absent_class():
    m = MeanAveragePrecision(num_classes=4, max_samples=16)
    m.update_state(LABELS, SCORES)
    assert float(m.result()) == pytest.approx(HAND_MAP, abs=1e-6)
    per_class = m.per_class_ap().numpy()
    np.testing.assert_allclose(per_class[:3], HAND_APS, atol=1e-6)
    assert np.isnan(per_class[3])


def test_map_ties_match_numpy_reference():
    m = MeanAveragePrecision(num_classes=2, max_samples=8)
    # Class 1 column has the tied example above; class 0 is its mirror.
    labels = np.array([0, 1, 0, 1])
    s1 = np.array([0.9, 0.8, 0.8, 0.1], np.float32)
    m.update_state(labels, np.stack([1 - s1, s1], axis=1))
    assert float(m.per_class_ap()[1]) == pytest.approx(5 / 12, abs=1e-6)
    expected = mean_average_precision(labels, np.stack([1 - s1, s1], axis=1))
    assert float(m.result()) == pytest.approx(expected, abs=1e-6)


def test_map_perfect_ranking_is_one_and_reversed_is_lower():
    labels = np.array([0, 1, 2, 2, 1, 0])
    perfect = np.eye(3, dtype=np.float32)[labels] * 0.8 + 0.05
    m = MeanAveragePrecision(num_classes=3, max_samples=8)
    m.update_state(labels, perfect)
    assert float(m.result()) == pytest.approx(1.0)
    m.reset_state()
    m.update_state(labels, 1.0 - perfect)
    assert float(m.result()) < 0.6


def test_map_accumulates_over_batches_like_one_batch():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=40)
    scores = np.round(rng.random((40, 5)), 1).astype(np.float32)  # rounding makes ties
    one = MeanAveragePrecision(num_classes=5, max_samples=64)
    one.update_state(labels, scores)
    two = MeanAveragePrecision(num_classes=5, max_samples=64)
    two.update_state(labels[:17], scores[:17])
    two.update_state(labels[17:], scores[17:])
    assert float(two.result()) == pytest.approx(float(one.result()), abs=1e-6)
    assert float(one.result()) == pytest.approx(mean_average_precision(labels, scores), abs=1e-5)
    # One-hot labels and logits give the same answer (softmax keeps no ranking
    # per column in general, so compare against the NumPy value on softmax).
    logits_m = MeanAveragePrecision(num_classes=5, max_samples=64, from_logits=True)
    logits_m.update_state(np.eye(5)[labels], scores)
    probs = tf.nn.softmax(scores).numpy()
    assert float(logits_m.result()) == pytest.approx(mean_average_precision(labels, probs), abs=1e-5)


def test_map_buffer_overflow_and_bad_labels_raise():
    m = MeanAveragePrecision(num_classes=2, max_samples=3)
    m.update_state([0, 1], [[0.6, 0.4], [0.3, 0.7]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_samples"):
        m.update_state([0, 1], [[0.6, 0.4], [0.3, 0.7]])
    m.reset_state()
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes"):
        m.update_state([2], [[0.6, 0.4]])
    with pytest.raises(ValueError, match="classes"):
        m.update_state([0], [[0.6, 0.3, 0.1]])


def test_map_inside_compiled_keras_evaluate():
    import keras

    rng = np.random.default_rng(1)
    x = rng.normal(size=(24, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=24)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy",
                  metrics=[MeanAveragePrecision(3, max_samples=64), TopKAccuracy(1)])
    res = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    pred = model.predict(x, batch_size=24, verbose=0)
    assert res["mAP"] == pytest.approx(mean_average_precision(y, pred), abs=1e-5)
    assert res["top1_accuracy"] == pytest.approx(float(np.mean(pred.argmax(1) == y)), abs=1e-6)


def test_topk_hand_computed_and_accumulation():
    scores = np.array([
        [0.5, 0.3, 0.2],  # label 0: rank 1
        [0.5, 0.3, 0.2],  # label 1: rank 2
        [0.1, 0.6, 0.3],  # label 2: rank 2
        [0.6, 0.3, 0.1],  # label 2: rank 3
    ], np.float32)
    labels = np.array([0, 1, 2, 2])
    for k, expected in [(1, 0.25), (2, 0.75), (3, 1.0)]:
        m = TopKAccuracy(k)
        m.update_state(labels, scores)
        assert float(m.result()) == pytest.approx(expected)
    # Two batches accumulate to the one-batch value.
    m = TopKAccuracy(2)
    m.update_state(labels[:1], scores[:1])
    m.update_state(labels[1:], scores[1:])
    assert float(m.result()) == pytest.approx(0.75)
    assert m.name == "top2_accuracy"


def test_top5_hand_computed():
    scores = np.array([[6, 5, 4, 3, 2, 1]] * 4, np.float32)
    labels = np.array([[5], [4], [0], [5]])  # ranks 6, 5, 1, 6
    m = TopKAccuracy()  # k = 5 by default
    m.update_state(labels, scores)
    assert float(m.result()) == pytest.approx(0.5)
    assert m.name == "top5_accuracy"
    with pytest.raises(ValueError):
        TopKAccuracy(0)


def test_clip_log_scores_all_frames_and_second_half():
    # Per-frame probabilities over 2 classes for T = 5 frames.
    probs = np.array([[[0.01, 0.99], [0.05, 0.95], [0.9, 0.1], [0.6, 0.4], [0.7, 0.3]]], np.float32)
    logp = np.log(probs)
    test_score = np.asarray(clip_log_scores(logp, training=False, inputs="log_probs"))
    np.testing.assert_allclose(test_score, logp.mean(axis=1), rtol=1e-6)
    train_score = np.asarray(clip_log_scores(logp, training=True, inputs="log_probs"))
    # Second half of 5 frames = frames 2, 3, 4 (starts at T // 2).
    np.testing.assert_allclose(train_score, logp[:, 2:].mean(axis=1), rtol=1e-6)
    assert train_score[0].argmax() == 0 and test_score[0].argmax() == 1
    # Probabilities and logits give the same log-probabilities.
    np.testing.assert_allclose(np.asarray(clip_log_scores(probs, inputs="probs")), test_score, rtol=1e-5)
    logits = logp + 3.0  # a per-frame constant does not change log_softmax
    np.testing.assert_allclose(np.asarray(clip_log_scores(logits, inputs="logits")), test_score,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        clip_log_scores(logp, inputs="softmax")
