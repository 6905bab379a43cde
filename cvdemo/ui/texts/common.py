"""Text shared by several tabs: layer and head choices, image uploads, model notes and loading messages."""

from cvdemo.ui.i18n import Catalog

# namespace "shared", not "common": Gradio's own front-end texts live under "common" (e.g. common.complete),
# and a catalog of ours by that name would hide them
T = Catalog("shared", {
    # cvdemo.ui.choices
    "mean_of_heads": ("mean of heads", "各头平均"),
    "head": ("head {i}", "第 {i} 个头"),
    "layer_only": ("1 (the only one)", "1（唯一一层）"),
    "layer_first": ("{i} (first)", "{i}（第一层）"),
    "layer_last": ("{i} (last)", "{i}（最后一层）"),
    # cvdemo.ui.uploads
    "no_image_title": ("No image", "没有图像"),
    "no_image": ("Upload an image first (or pick one of the examples).", "请先上传一张图像（或选一个示例）。"),
    "bad_file_title": ("Cannot use this file", "无法使用此文件"),
    # cvdemo.ui.models (loading)
    "loading_from_hub": ("Loading {name} from the Hugging Face Hub (first use only; this can take a minute)…",
                         "正在从 Hugging Face Hub 加载 {name}（仅首次使用；可能需要一分钟）…"),
    "loading": ("Loading {name}…", "正在加载 {name}…"),
    "model_unavailable_title": ("Model not available", "模型不可用"),
    # cvdemo.ui.models (notes) and cvdemo.models.registry
    "not_available": ("Not available:", "不可用："),
    "shipped_with_quality": ("{line} ({quality}; see its model card)", "{line}（{quality}；详见其模型卡）"),
    "quality_detect": ("COCO AP {ap:.3f}, AP50 {ap50:.3f} on fresh shapes",
                       "在新生成的形状上 COCO AP {ap:.3f}，AP50 {ap50:.3f}"),
    "quality_classify": ("top-1 {accuracy:.3f} on fresh shapes (chance 0.167)",
                         "在新生成的形状上 top-1 {accuracy:.3f}（随机猜测 0.167）"),
    "shipped": ("shipped: {what}", "随附模型：{what}"),
    "about_detr_shapes": ("a small DETR trained on the synthetic shapes (128 px)",
                          "在合成形状数据（128 像素）上训练的小型 DETR"),
    "about_fasterrcnn_shapes": ("a small Faster R-CNN (torchvision's, ResNet-18 + FPN) trained on the same shapes",
                                "在相同形状数据上训练的小型 Faster R-CNN（torchvision 实现，ResNet-18 + FPN）"),
    "about_ssd_shapes": ("a small SSD (torchvision's, ResNet-18, 5 default-box maps) trained on the same shapes",
                         "在相同形状数据上训练的小型 SSD（torchvision 实现，ResNet-18，5 个默认框特征图）"),
    "about_yolo_shapes": ("a small YOLO v1 (8×8 grid, 2 boxes per cell) trained on the same shapes",
                          "在相同形状数据上训练的小型 YOLO v1（8×8 网格，每格 2 个框）"),
    "about_rcnn_shapes": ("R-CNN: selective-search regions classified one by one by vit-shapes",
                          "R-CNN：选择性搜索得到的区域逐个交给 vit-shapes 分类"),
    "about_tv_frcnn": ("torchvision's Faster R-CNN R50-FPN on COCO, 80 classes (downloaded on first use, ~160 MB)",
                       "torchvision 的 Faster R-CNN R50-FPN，COCO 训练，80 类（首次使用时下载，约 160 MB）"),
    "about_tv_ssd": ("torchvision's SSD300 VGG16 on COCO, 80 classes (downloaded on first use, ~136 MB)",
                     "torchvision 的 SSD300 VGG16，COCO 训练，80 类（首次使用时下载，约 136 MB）"),
    "about_tv_retinanet": ("torchvision's RetinaNet R50-FPN on COCO, 80 classes (downloaded on first use, ~130 MB)",
                           "torchvision 的 RetinaNet R50-FPN，COCO 训练，80 类（首次使用时下载，约 130 MB）"),
    "about_vit_shapes": ("a small ViT classifying one shape per 64 px image",
                         "对每张 64 像素图像中的单个形状分类的小型 ViT"),
    "about_detr_r50": ("Hugging Face Hub: DETR-R50 on COCO, 91 classes (downloaded on first use, ~170 MB)",
                       "Hugging Face Hub：在 COCO 上训练的 DETR-R50，91 类（首次使用时下载，约 170 MB）"),
    "about_vit_b16": ("Hugging Face Hub: ViT-B/16, ImageNet-1k (downloaded on first use, ~350 MB)",
                      "Hugging Face Hub：ViT-B/16，ImageNet-1k（首次使用时下载，约 350 MB）"),
    "about_deit_tiny": ("Hugging Face Hub: DeiT-Ti, ImageNet-1k (downloaded on first use, ~25 MB)",
                        "Hugging Face Hub：DeiT-Ti，ImageNet-1k（首次使用时下载，约 25 MB）"),
    "no_detection_model": ("No detection model configured.", "未配置检测模型。"),
    "no_vit_model": ("No ViT model configured.", "未配置 ViT 模型。"),
    "model": ("Model", "模型"),
    # cvdemo.images: what the loader did to an image
    "image_frames": ("{frames} frames (animated or multi-page): the first is shown",
                     "{frames} 帧（动画或多页）：只显示第一帧"),
    "image_downsized": ("downsized from {w0}×{h0} to {w}×{h}", "已从 {w0}×{h0} 缩小到 {w}×{h}"),
    "image_rotated": ("rotated upright (EXIF orientation {orientation})", "已按 EXIF 方向 {orientation} 转正"),
    "image_greyscale": ("{depth} greyscale scaled to 8 bits", "{depth} 灰度图已缩放到 8 位"),
    "image_transparent": ("transparent areas shown on white", "透明区域以白色显示"),
    "image_cmyk": ("CMYK converted to RGB", "CMYK 已转换为 RGB"),
    # cvdemo.ui.uploads.image_notes: the model's input when pre-processing could not keep the image's shape
    "resized_for_model": ("resized to {w}×{h} for the model (its aspect ratio could not be kept)",
                          "为模型缩放到 {w}×{h}（无法保持其宽高比）"),
    "resized_for_model_square": ("resized to {w}×{h} for the model (its aspect ratio is not kept)",
                                 "为模型缩放到 {w}×{h}（未保持其宽高比）"),
    # cvdemo.ui.errors
    "cannot_do_title": ("Cannot do this", "无法完成"),
    "unexpected_title": ("Server error", "服务器错误"),
    "unexpected": ("Something went wrong on the server while answering this request (error id {error_id}). "
                   "Try again; if it happens again, report the error id.",
                   "服务器处理此请求时出错（错误编号 {error_id}）。请重试；如果再次出现，请报告此错误编号。"),
    # cvdemo.ui.validate
    "bad_value_title": ("Invalid value", "无效的值"),
    "not_a_number": ("{name} must be a number in {limits} (got {value}).",
                     "{name} 必须是 {limits} 内的数（收到 {value}）。"),
    "not_an_integer": ("{name} must be a whole number in {limits} (got {value}).",
                       "{name} 必须是 {limits} 内的整数（收到 {value}）。"),
    "out_of_range": ("{name} must be in {limits} (got {value}).", "{name} 必须在 {limits} 内（收到 {value}）。"),
    "not_a_choice": ("{name} must be one of: {options} (got {value}).",
                     "{name} 必须是以下之一：{options}（收到 {value}）。"),
    # cvdemo.session_store
    "state_dropped": ("The result this view needs is no longer kept on the server (memory is shared by all users, "
                      "and older results are dropped first). Run it again.",
                      "此视图所需的结果已不在服务器上保留（内存由所有用户共享，较早的结果会先被清除）。请重新运行。"),
    "run_too_large": ("This result needs {size_mb} MB, more than this server keeps for all users together "
                      "({limit_mb} MB). Use a smaller input.",
                      "此结果需要 {size_mb} MB，超过了本服务器为所有用户共同保留的上限（{limit_mb} MB）。"
                      "请使用更小的输入。"),
    # cvdemo.ui.models
    "wrong_task": ("'{name}' is {kind}; this needs {need}. Choose one of: {choices}.",
                   "“{name}”是{kind}；此处需要{need}。请选择：{choices}。"),
    "kind_detect": ("a DETR detector", "DETR 检测模型"),
    "kind_family": ("a detector of another family (Faster R-CNN, SSD, YOLO, ...)",
                    "其他系列的检测模型（Faster R-CNN、SSD、YOLO 等）"),
    "kind_classify": ("an image classifier (ViT)", "图像分类模型（ViT）"),
    "unknown_model": ("Unknown model '{name}'. Choose one of: {choices}.", "未知模型“{name}”。请选择：{choices}。"),
    "model_missing": ("The model '{name}' is not available: {source} does not exist yet (the shipped checkpoint has "
                      "not been trained or copied here). Choose another model.",
                      "模型“{name}”不可用：{source} 尚不存在（随附的检查点尚未训练或复制到此处）。请选择其他模型。"),
})
