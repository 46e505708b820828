"""scs-keras: Semi-Coupled Structure recurrent layers for Keras 3 / TensorFlow."""

from setuptools import find_packages, setup

setup(
    name="scs-keras",
    version="0.1.0",
    description=(
        "Semi-Coupled Structure (SCS) recurrent layers, fused fast paths and "
        "stochastic-truncation training for Keras 3 on TensorFlow."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["scs_keras", "scs_keras.*"]),
    python_requires=">=3.10",
    # Wider ranges than the tested pins in requirements.txt: the core layers use
    # only public Keras 3 / TF APIs.  The tested combination is in the README.
    install_requires=[
        "tensorflow>=2.16,<2.18",
        "keras>=3.3,<4",
        "numpy>=1.23,<2",
    ],
    py_modules=["scs_keras_cli"],
    entry_points={"console_scripts": ["scs-keras = scs_keras_cli:main"]},
    extras_require={
        "data": [
            "tensorflow-io==0.37.1",
            "h5py>=3.8",
            "tqdm>=4.60",
            "opencv-python-headless>=4.8,<4.11",
        ],
        "tuning": ["keras-tuner>=1.4"],
        "dev": ["pytest>=8"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Keras",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
