"""Action recognition with a deep SCS network, as a short script.

The same steps as ``scs-keras train action-recognition`` (which adds the
baselines, TensorBoard, overlap-coherence training and every flag), written
out for people who read code:

    python examples/action_recognition.py [EPOCHS]
"""

import sys

from scs_keras.data.video import AugmentConfig
from scs_keras.tasks.action_recognition import data, export, models, training

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 12

# 1. Generated motion videos (UCF-101 layout; the class is the motion) -> tf.data.
root = data.generated_motion_data(videos_per_class=80, num_frames=16, size=32)
train_ds, test_ds, info = data.make_action_datasets(
    root, num_frames=8, image_size=32, batch_size=32, cache=True,
    augment=AugmentConfig(flip=False, crop_scale=None))
num_classes = len(info["class_names"])

# 2. A 4-layer residual SCS network with a T¹ auxiliary head, trained with STSGD.
model = models.build_model("scs", num_classes, (None, 32, 32, 3), depth=4,
                           truncation_mode="exclusive")
training.compile_action_model(model, num_classes, learning_rate=1e-2, truncation="stsgd")
training.fit_action_model(model, data.model_targets(train_ds, model), epochs)

# 3. Top-1 / top-5 / mAP on the test list, and a SavedModel.
print(training.evaluate_action_model(model, data.model_targets(test_ds, model), num_classes))
print("SavedModel:", export.export_action_model(model, 8, 32))
