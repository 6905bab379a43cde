"""The app's header and tab names (`app.py`)."""

import cvdemo
from cvdemo.ui.i18n import Catalog

T = Catalog("app", {
    "header": (
        f"""# cvdemo {cvdemo.__version__}: see inside DETR and ViT
Detect objects with **DETR** and see what each object query attends to; step through DETR's **Hungarian
matching** and its loss; see how a **Vision Transformer** reads an image through attention rollout; **train** small
models live; **evaluate** any detector's predictions against ground truth object by object; play with the ideas
under **Concepts**.""",
        f"# cvdemo {cvdemo.__version__}：看清 DETR 与 ViT 的内部\n"
        "用 **DETR** 检测目标，并查看每个目标查询（object query）关注图像的哪里；"
        "逐步演示 DETR 的**匈牙利匹配**及其损失；"
        "通过注意力展开（attention rollout）看 **Vision Transformer** 如何读图；"
        "现场**训练**小模型；逐个目标地**评估**任意检测器的预测与真值；在**概念**页里动手体验这些思想。"),
    "title": ("cvdemo: inside DETR and ViT", "cvdemo：DETR 与 ViT 的内部"),
    "tab_detect": ("Detect (DETR)", "检测（DETR）"),
    "tab_detectors": ("Detectors (all families)", "检测器对比（各系列）"),
    "tab_match": ("Matching (DETR)", "匹配（DETR）"),
    "tab_attention": ("Attention (ViT)", "注意力（ViT）"),
    "tab_evaluate": ("Evaluate", "评估"),
    "tab_train": ("Train", "训练"),
    "tab_claims": ("Claims", "论断检验"),
    "tab_concepts": ("Concepts", "概念"),
})
