"""SSD-MobileNetV2 detection task: backbone port, anchors, boxes, KAN head wiring, evaluation."""
