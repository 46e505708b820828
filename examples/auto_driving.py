"""Steering from driving video with an SCS network, as a short script.

The same steps as ``scs-keras train steering`` (which adds the baselines,
TensorBoard and every flag), written out for people who read code, and then
the car's view: the exported model fed one camera frame at a time.

    python examples/auto_driving.py [EPOCHS [ROUTES]]

ROUTES (default 16, as ``scs-keras train steering``) generated routes, about
a fifth of them (3 of 16) kept for testing.
"""

import sys

import numpy as np
import tensorflow as tf

from scs_keras.tasks.steering import data, export, models, streaming, training

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
routes = int(sys.argv[2]) if len(sys.argv) > 2 else 16
size, length = (40, 80), 8

# 1. Generated drives in the comma.ai layout (camera/, log/, conditions/) -> tf.data,
#    split by route.
root, _ = data.generated_routes("generated_data/steering", routes=routes, image_size=size)
train_ds, test_ds, info = data.load_datasets(root, length=length, image_size=size,
                                             test_routes=max(1, routes // 5))
mean, std = data.angle_statistics(train_ds)

# 2. The SCS network with T¹ and T² heads, trained with ASTSGD; θ is the loss
#    of always predicting the training mean.
model = models.build_model("scs", size, angle_mean=mean, angle_std=std, seed=0)
training.compile_steering_model(model, threshold=training.mean_prediction_loss(std))
training.fit_steering_model(model, train_ds, epochs)

# 3. Accuracy within 1/3/5/10 degrees, MAE, RMSE; which stream steers where.
scores, streams = training.evaluate_steering_model(model, test_ds,
                                                   condition_names=info["condition_names"])
print(scores)
for row in streams or []:
    print(row)

# 4. The SavedModel, then a "car" that sends one frame at a time to `step`;
#    the last step's angle is the one `serving_default` gives for the whole clip.
path = export.export_steering_model(model)
signatures = tf.saved_model.load(path).signatures
frames, targets = next(iter(test_ds))
state = tf.zeros((1, streaming.state_size(model)))
for t in range(length):
    out = signatures["step"](frame=frames[:1, t], state=state)
    state = out["state"]
whole_clip = signatures["serving_default"](frames=frames[:1])["angle"]
print(f"SavedModel {path}: streamed angle {float(out['angle'][0]):+.3f} degrees, "
      f"whole clip {float(whole_clip[0]):+.3f}, "
      f"logged {float(np.asarray(targets['steering_angle'])[0]):+.1f}")
