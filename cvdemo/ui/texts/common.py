"""Text shared by several tabs: layer and head choices, image uploads, model notes and loading messages."""

from cvdemo.ui.i18n import Catalog

T = Catalog("common", {
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
    # cvdemo.ui.model_calls
    "loading_from_hub": ("Loading {name} from the Hugging Face Hub (first use only; this can take a minute)…",
                         "正在从 Hugging Face Hub 加载 {name}（仅首次使用；可能需要一分钟）…"),
    "loading": ("Loading {name}…", "正在加载 {name}…"),
    "model_unavailable_title": ("Model not available", "模型不可用"),
    # cvdemo.ui.models_registry
    "not_available": ("Not available:", "不可用："),
    "shipped_with_quality": ("{line} ({quality}; see its model card)", "{line}（{quality}；详见其模型卡）"),
    "quality_detect": ("COCO AP {ap:.3f}, AP50 {ap50:.3f} on fresh shapes",
                       "在新生成的形状上 COCO AP {ap:.3f}，AP50 {ap50:.3f}"),
    "quality_classify": ("top-1 {accuracy:.3f} on fresh shapes (chance 0.167)",
                         "在新生成的形状上 top-1 {accuracy:.3f}（随机猜测 0.167）"),
    "shipped": ("shipped: {what}", "随附模型：{what}"),
    "about_detr_shapes": ("a small DETR trained on the synthetic shapes (128 px)",
                          "在合成形状数据（128 像素）上训练的小型 DETR"),
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
})
