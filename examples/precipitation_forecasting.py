"""Precipitation nowcasting with an SCS encoder–forecaster, as a short script.

The same steps as ``scs-keras train precipitation`` (which adds the
comparison with the ConvLSTM, persistence and optical flow, TensorBoard and
every flag), written out for people who read code:

    python examples/precipitation_forecasting.py [EPOCHS]
"""

import sys

from scs_keras.tasks.precipitation import data, export, models, training

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 20

# 1. Radar events on disk (generated once, HKO-7-style PNG folders) -> tf.data.
paths = data.generated_data(progress=True)
train_ds, test_ds, info = data.load_datasets(paths["train"], paths["test"], input_frames=5,
                                             target_frames=5, batch_size=16)

# 2. The SCS encoder-forecaster, trained with ASTSGD: θ is the persistence
#    loss, about the best the single-frame T¹ head can reach.
model = models.build_model("scs", 5, 5, info["image_size"])
threshold = training.persistence_loss(train_ds, max_batches=20)
training.compile_forecaster(model, threshold=threshold)
training.fit_forecaster(model, train_ds, epochs, val_ds=test_ds)

# 3. Scores on the test events, and a SavedModel that TensorFlow alone serves.
scores = training.evaluate_forecaster(model, test_ds, target_frames=5)
print({k: round(v, 4) for k, v in scores.items() if k != "per_lead"})
print("SavedModel:", export.export_forecaster(model))
