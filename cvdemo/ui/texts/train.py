"""The Train tab's text (`cvdemo.ui.train_tab`, `cvdemo.ui.training_view`) and the words of the training core's
messages (`cvdemo.training.kinds`, `requests`, `jobs`, `trained_models`: keys "train.<name>"): layout, live status
lines, end-of-run notes, errors, the curves' titles and legend names, snapshot captions."""

from cvdemo.ui.i18n import Catalog

T = Catalog("train", {
    # --- layout (train_tab) ---------------------------------------------------------------------------------
    "intro": (
        """Train a small **DETR** (detection) or **ViT** (classification) from scratch and watch it learn: the
loss terms (for DETR each decoder layer's auxiliary losses too), the learning rate, the validation AP or accuracy,
and every few steps the predictions on fixed images (for DETR, which query the **Hungarian matcher** assigns to
each object). Use the generated shapes, or upload a **COCO-format zip** (`annotations.json` and the images it
lists). One run trains at a time on this server; when it is done, **save** the model to use it in the other
tabs.""",
        "从零开始训练一个小型 **DETR**（检测）或 **ViT**（分类），看它如何学习：各项损失（DETR 还包括每个解码器层的"
        "辅助损失）、学习率、验证集上的 AP 或准确率，以及每隔几步在固定图像上的预测（对 DETR，还能看到**匈牙利匹配**"
        "把哪个目标查询分配给了每个目标）。可以使用生成的形状数据，也可以上传 **COCO 格式的 zip**（`annotations.json` "
        "及其列出的图像）。本服务器同一时间只训练一个任务；训练结束后，**保存**模型即可在其他标签页中使用。"),
    "task": ("Task", "任务"),
    "kind_detr": ("DETR detection", "DETR 目标检测"),
    "kind_vit": ("ViT classification", "ViT 图像分类"),
    "kind_yolo": ("YOLO detection", "YOLO 目标检测"),
    "kind_fasterrcnn": ("Faster R-CNN detection", "Faster R-CNN 目标检测"),
    "kind_ssd": ("SSD detection", "SSD 目标检测"),
    "preset": ("Preset", "预设"),
    "preset_tiny": ("tiny", "tiny（极小）"),
    "preset_small": ("small", "small（小型）"),
    # the presets' descriptions in italics (`cvdemo.training.presets`; the English is theirs, word for word)
    "preset_detr_tiny": ("*live CPU demo: 1-3 large shapes at 128 px, the backbone from detr-shapes (as DETR's "
                         "from ImageNet); the default 600 steps take about 4 minutes on a 2-core CPU, after which "
                         "the best-scoring box is right on 3 of the 8 snapshot images (other seeds: 0 to 4 of 8)*",
                         "*CPU 现场演示：128 像素图像中 1-3 个大形状，主干网络取自 detr-shapes（如同 DETR 的主干"
                         "取自 ImageNet 预训练）；默认的 600 步在双核 CPU 上约需 4 分钟，"
                         "之后 8 张快照图像中有 3 张得分最高的框是正确的（换用其他随机种子：8 张中 0 到 4 张）*"),
    "preset_detr_small": (
        "*the shipped checkpoint's recipe: 1-4 shapes at 128 px, sizes 0.15-0.6 of the image, a random backbone; the "
        "default 300 steps (about 2 minutes on a 2-core CPU) show the loss falling, not yet a right box (0 of the 4 "
        "snapshot images; detr-shapes took 28,300 steps, about 3.5 hours)*",
        "*随附检查点的配方：128 像素图像中 1-4 个形状，尺寸为图像的 0.15-0.6，主干网络随机初始化；"
        "默认的 300 步在双核 CPU 上约需 2 分钟，只能看到损失下降，还没有正确的框"
        "（4 张快照图像中 0 张；detr-shapes 训练了 28,300 步，约 3.5 小时）*"),
    "preset_vit_tiny": ("*live CPU demo: one shape per 64 px image, 2 blocks of width 96, hinted by detr-shapes' "
                        "backbone; the default 1200 steps take about 3 minutes on a 2-core CPU, after which the top "
                        "class is right on 4 of the 8 snapshot images (validation accuracy 0.34; chance is 0.17)*",
                        "*CPU 现场演示：每张 64 像素图像一个形状，2 个宽度为 96 的 Transformer 块，"
                        "由 detr-shapes 的主干网络提供特征提示；默认的 1200 步在双核 CPU 上约需 3 分钟，"
                        "之后 8 张快照图像中有 4 张的最高概率类别是正确的（验证集准确率 0.34；随机猜测为 0.17）*"),
    "preset_yolo_tiny": (
        "*live CPU demo: YOLO v1 on 1-3 large shapes at 128 px (an 8x8 grid, 2 boxes per cell), the backbone from "
        "detr-shapes as the tiny DETR's; the default 300 steps take about 2 minutes on a 2-core CPU, after which the "
        "best-scoring box is right on 1 of the 8 snapshot images (COCO AP 0.05)*",
        "*CPU 现场演示：YOLO v1，128 像素图像中 1-3 个大形状（8x8 网格，每格 2 个框），"
        "主干网络与 tiny DETR 一样取自 detr-shapes；默认的 300 步在双核 CPU 上约需 2 分钟，"
        "之后 8 张快照图像中有 1 张得分最高的框是正确的（COCO AP 0.05）*"),
    "preset_yolo_small": ("*the recipe of a shipped yolo-shapes: the YOLO v1 grid with a 1x1-convolution head on "
                          "detr-shapes' distribution (1-4 shapes at 128 px, sizes 0.15-0.6 of the image), the backbone "
                          "from detr-shapes*",
                          "*随附 yolo-shapes 检查点的配方：YOLO v1 网格加 1x1 卷积输出头，使用 detr-shapes 的数据分布"
                          "（128 像素图像中 1-4 个形状，尺寸为图像的 0.15-0.6），主干网络取自 detr-shapes*"),
    "preset_fasterrcnn_tiny": (
        "*live CPU demo: Faster R-CNN on 1-3 large shapes at 128 px, the backbone's first stages from detr-shapes "
        "as the tiny DETR's; the default 300 steps take about 3 minutes on a 2-core CPU, after which the "
        "best-scoring box is right on 5 of the 8 snapshot images (COCO AP 0.29)*",
        "*CPU 现场演示：Faster R-CNN，128 像素图像中 1-3 个大形状，主干网络的前几层与 tiny DETR 一样取自 detr-shapes；"
        "默认的 300 步在双核 CPU 上约需 3 分钟，之后 8 张快照图像中有 5 张得分最高的框是正确的"
        "（COCO AP 0.29）*"),
    "preset_fasterrcnn_small": (
        "*the recipe of a shipped checkpoint: Faster R-CNN on detr-shapes' distribution (1-4 shapes at 128 px, sizes "
        "0.15-0.6 of the image), the backbone's first stages from detr-shapes*",
        "*随附检查点的配方：Faster R-CNN，使用 detr-shapes 的数据分布（128 像素图像中 1-4 个形状，"
        "尺寸为图像的 0.15-0.6），主干网络的前几层取自 detr-shapes*"),
    "preset_ssd_tiny": (
        "*live CPU demo: SSD on 1-3 large shapes at 128 px, the backbone's first stages from detr-shapes "
        "as the tiny DETR's; the default 300 steps take about 3 minutes on a 2-core CPU, after which the "
        "best-scoring box is right on 6 of the 8 snapshot images (COCO AP 0.34)*",
        "*CPU 现场演示：SSD，128 像素图像中 1-3 个大形状，主干网络的前几层与 tiny DETR 一样取自 detr-shapes；"
        "默认的 300 步在双核 CPU 上约需 3 分钟，之后 8 张快照图像中有 6 张得分最高的框是正确的"
        "（COCO AP 0.34）*"),
    "preset_ssd_small": (
        "*the recipe of a shipped checkpoint: SSD on detr-shapes' distribution (1-4 shapes at 128 px, sizes "
        "0.15-0.6 of the image), the backbone's first stages from detr-shapes*",
        "*随附检查点的配方：SSD，使用 detr-shapes 的数据分布（128 像素图像中 1-4 个形状，"
        "尺寸为图像的 0.15-0.6），主干网络的前几层取自 detr-shapes*"),
    "preset_vit_small": (
        "*the shipped checkpoint's recipe: one shape per 64 px image, 4 blocks of width 128, hinted by detr-shapes' "
        "backbone; the default 300 steps (about 3 minutes on a 2-core CPU) leave the top class right on 1 of the 4 "
        "snapshot images (validation accuracy 0.25; vit-shapes took 10,000 steps, 59 minutes)*",
        "*随附检查点的配方：每张 64 像素图像一个形状，4 个宽度为 128 的 Transformer 块，"
        "由 detr-shapes 的主干网络提供特征提示；默认的 300 步在双核 CPU 上约需 3 分钟，"
        "之后 4 张快照图像中有 1 张的最高概率类别是正确的（验证集准确率 0.25；vit-shapes 训练了 10,000 步，59 分钟）*"),
    "data": ("Data", "数据"),
    "source_generated": ("Generated shapes", "生成的形状"),
    "source_upload": ("My COCO zip", "我的 COCO zip"),
    "upload": ("COCO zip: annotations.json + the images it lists", "COCO zip：annotations.json 及其列出的图像"),
    "train_for": ("Train for", "训练时长"),
    "unit": ("Unit", "单位"),
    "unit_steps": ("steps", "步"),
    "unit_epochs": ("epochs", "轮（epoch）"),
    "lr": ("Learning rate", "学习率"),
    "batch": ("Batch size", "批大小"),
    "snapshot_every": ("Snapshot every (steps)", "快照间隔（步）"),
    "limits": ("*Runs on **{device}**; at most {steps} steps and {time} per run; a session keeps at most {models} "
               "saved models.*",
               "*在 **{device}** 上运行；每次训练最多 {steps} 步、{time}；每个会话最多保留 {models} 个已保存的模型。*"),
    "start": ("Start training", "开始训练"),
    "stop": ("Stop", "停止"),
    "status_idle": ("Choose a task and press **Start training**.", "选择任务，然后点击**开始训练**。"),
    "curves": ("Training curves", "训练曲线"),
    "snapshots_heading": ("#### Predictions on fixed images", "#### 固定图像上的预测"),
    "snapshots": ("Predictions on fixed images", "固定图像上的预测"),
    "keep_heading": ("#### Keep the trained model", "#### 保存训练好的模型"),
    "name": ("Name", "名称"),
    "save": ("Save and add to the models", "保存并加入模型列表"),
    "checkpoint": ("Checkpoint (config.json + model.safetensors)", "检查点（config.json + model.safetensors）"),
    "hub": ("Push to the Hugging Face Hub", "推送到 Hugging Face Hub"),
    "repo": ("Repository", "仓库"),
    "repo_placeholder": ("your-user-name/my-detr", "你的用户名/my-detr"),
    "token": ("Your Hugging Face token (write access; used once, never stored)",
              "你的 Hugging Face 令牌（需要写权限；只用于这一次推送，不会保存）"),
    "private": ("Private repository", "私有仓库"),
    "push": ("Push", "推送"),
    # --- handlers (train_tab) -------------------------------------------------------------------------------
    "title_already_training": ("Already training", "已在训练"),
    "already_training": ("You already have a training run; stop it before starting another.",
                         "你已经有一个训练任务在运行；请先停止它，再开始新的训练。"),
    "title_no_data": ("No data", "没有数据"),
    "no_data": ("Upload a COCO-format zip first, or choose the generated shapes.",
                "请先上传一个 COCO 格式的 zip，或选择生成的形状数据。"),
    "title_bad_zip": ("Cannot use this zip", "无法使用此 zip"),
    "title_busy": ("Busy", "繁忙"),
    "title_bad_settings": ("Cannot train with these settings", "无法按这些设置训练"),
    "no_run_to_stop": ("*No training run to stop.*", "*没有可停止的训练任务。*"),
    "stop_requested": ("*Stop requested at step {step}: the run ends after the current step.*",
                       "*已在第 {step} 步请求停止：当前这一步完成后训练即结束。*"),
    "title_nothing_to_save": ("Nothing to save", "没有可保存的模型"),
    "train_first": ("Train a model first.", "请先训练一个模型。"),
    "title_still_training": ("Still training", "仍在训练"),
    "still_training": ("The run is still going: stop it or wait for it to end, then save.",
                       "训练仍在进行：请先停止或等待它结束，再保存。"),
    "trained_by_you": ("trained in this app by you: {description}; {steps} steps done",
                       "由你在本应用中训练：{description}；已完成 {steps} 步"),
    "saved_detect": ("✅ Saved as **{name}** and added to the models: choose it in the **Detect** and **Matching** "
                     "tabs' Model list (in this browser session). Download the checkpoint below.",
                     "✅ 已保存为 **{name}** 并加入模型列表：可在**检测**和**匹配**标签页的“模型”列表中选择它"
                     "（限本次浏览器会话）。可在下方下载检查点。"),
    "threshold_suggested": (
        "🎚️ In the **Detect** tab set the score threshold to **{threshold:.2f}** to see this model's detections: on "
        "the run's {images} validation images it then shows {tp} right boxes and {fp} wrong ones for {objects} "
        "objects (at the default {default:.2f}: {default_tp} right, {default_fp} wrong). A model trained for "
        "minutes is often right with low confidence.",
        "🎚️ 在**检测**标签页把分数阈值设为 **{threshold:.2f}** 即可看到该模型的检测结果："
        "在本次训练的 {images} 张验证图像上，它会给出 {tp} 个正确框和 {fp} 个错误框"
        "（共 {objects} 个目标；默认阈值 {default:.2f} 下：{default_tp} 个正确，{default_fp} 个错误）。"
        "只训练了几分钟的模型往往答对了却置信度不高。"),
    "threshold_default_fits": (
        "🎚️ The **Detect** tab's default score threshold ({default:.2f}) suits this model: on the run's {images} "
        "validation images it shows {default_tp} right boxes and {default_fp} wrong ones for {objects} objects "
        "(the best threshold there: {threshold:.2f}).",
        "🎚️ **检测**标签页的默认分数阈值（{default:.2f}）适合该模型："
        "在本次训练的 {images} 张验证图像上，它给出 {default_tp} 个正确框和 {default_fp} 个错误框"
        "（共 {objects} 个目标；其上的最佳阈值：{threshold:.2f}）。"),
    "threshold_nothing_right": (
        "🎚️ On the run's {images} validation images this model finds no object right yet (right class and "
        "IoU ≥ 0.5) at any score threshold: train it longer before judging it in the **Detect** tab.",
        "🎚️ 在本次训练的 {images} 张验证图像上，无论分数阈值取多少，"
        "该模型都还没有正确找到任何目标（类别正确且 IoU ≥ 0.5）："
        "请先训练更久，再到**检测**标签页查看。"),
    "saved_family": ("✅ Saved as **{name}** and added to the models: it runs beside the others in the "
                     "**Detectors** tab (in this browser session). Download the checkpoint below.",
                     "✅ 已保存为 **{name}** 并加入模型列表：它会在**检测器对比**标签页中与其他模型并排运行"
                     "（限本次浏览器会话）。可在下方下载检查点。"),
    "saved_classify": ("✅ Saved as **{name}** and added to the models: choose it in the **Attention** tab's Model "
                       "list (in this browser session). Download the checkpoint below.",
                       "✅ 已保存为 **{name}** 并加入模型列表：可在**注意力**标签页的“模型”列表中选择它"
                       "（限本次浏览器会话）。可在下方下载检查点。"),
    "replaced_oldest": ("Your oldest saved model, **{name}**, was removed: a session keeps at most {limit}.",
                        "你最早保存的模型 **{name}** 已被移除：每个会话最多保留 {limit} 个模型。"),
    "title_cannot_push": ("Cannot push", "无法推送"),
    "pushed": ("✅ Pushed to [{url}]({url})", "✅ 已推送到 [{url}]({url})"),
    # --- the stream and the end of a run (train_tab) --------------------------------------------------------
    "queued": ("⏳ **Busy**: another session is training; {place} run(s) ahead of yours in the queue.",
               "⏳ **繁忙**：另一个会话正在训练；队列中排在你前面的还有 {place} 个任务。"),
    "starting": ("Starting…", "正在启动…"),
    "training": ("Training…", "正在训练…"),
    "failed": ("❌ **The run failed** at step {step}: {error}", "❌ **训练失败**，在第 {step} 步：{error}"),
    "unknown_error": ("unknown error", "未知错误"),
    "why_time_limit": ("it reached this server's time limit of {time}", "已达到本服务器的时长上限 {time}"),
    "why_stop_pressed": ("you pressed Stop", "你点击了“停止”"),
    "why_stopped": ("it was stopped", "训练被停止"),
    "stopped_before_start": ("⏹ **Stopped** before the first step: {why}.", "⏹ 在第一步之前**已停止**：{why}。"),
    "stopped_at": ("⏹ **Stopped** at step {step} after {elapsed}: {why}. You can still save the model.",
                   "⏹ 在第 {step} 步（用时 {elapsed}）**已停止**：{why}。仍然可以保存模型。"),
    "done": ("✅ **Done**: {steps} steps in {elapsed}. Save the model below to use it in the other tabs.",
             "✅ **完成**：{steps} 步，用时 {elapsed}。在下方保存模型，即可在其他标签页中使用。"),
    "done_metrics": ("✅ **Done**: {steps} steps in {elapsed}; {metrics}. Save the model below to use it in the "
                     "other tabs.",
                     "✅ **完成**：{steps} 步，用时 {elapsed}；{metrics}。在下方保存模型，即可在其他标签页中使用。"),
    # --- setup (cvdemo.training.requests, trained_models) ----------------------------------------------------
    "unknown_task": ("unknown task {kind!r}; choose one of {choices}", "未知任务 {kind!r}；请从 {choices} 中选择"),
    "unknown_preset": ("unknown preset {preset!r}; choose one of {choices}",
                       "未知预设 {preset!r}；请从 {choices} 中选择"),
    "data_generated": ("generated shapes ({px} px, new images every step)", "生成的形状（{px} 像素，每步都是新图像）"),
    "data_upload": ("your {images} images, {classes} classes (evaluated on its first {val} images: no separate "
                    "validation set)",
                    "你的 {images} 张图像、{classes} 个类别（在前 {val} 张图像上评估：没有单独的验证集）"),
    "batch_at_least_one": ("the batch size must be at least 1", "批大小至少为 1"),
    "too_few_images": ("the data set has {images} images, fewer than one batch of {batch}: choose a smaller batch",
                       "数据集只有 {images} 张图像，不足一批（{batch} 张）：请选择更小的批大小"),
    "one_step": ("train for at least one step", "至少训练一步"),
    "description": ("{kind}, preset '{preset}', {steps} steps of {batch} images on {device}; data: {data}",
                    "{kind}，预设“{preset}”，在 {device} 上训练 {steps} 步，每批 {batch} 张图像；数据：{data}"),
    "no_annotations": ("the zip has no annotations.json: put the COCO annotations (annotations.json) and the images "
                       "it lists in the zip",
                       "zip 中没有 annotations.json：请把 COCO 标注（annotations.json）及其列出的图像放进 zip"),
    "token_needed": ("A Hugging Face token is needed to push: paste a token with write access "
                     "(huggingface.co/settings/tokens). It is used for this upload only and never stored.",
                     "推送需要 Hugging Face 令牌：请粘贴一个有写权限的令牌（huggingface.co/settings/tokens）。"
                     "它只用于这一次上传，不会保存。"),
    "bad_repo_id": ("{repo!r} is not a Hub repository id: use <your-user-name>/<model-name>",
                    "{repo!r} 不是 Hub 仓库 ID：请使用 <你的用户名>/<模型名>"),
    "save_first": ("Save the trained model first", "请先保存训练好的模型"),
    "push_offline": ("This server works offline (HF_HUB_OFFLINE): it cannot reach the Hugging Face Hub. "
                     "Download the checkpoint and push it from your own computer.",
                     "本服务器处于离线模式（HF_HUB_OFFLINE），无法连接 Hugging Face Hub。请下载检查点，"
                     "在你自己的电脑上推送。"),
    "push_failed": ("Pushing to {repo} failed: {error}", "推送到 {repo} 失败：{error}"),
    # --- the job manager (cvdemo.training.jobs) -------------------------------------------------------------
    "steps_capped": ("{asked} steps asked, {steps} run: the most this server allows per run",
                     "请求 {asked} 步，实际运行 {steps} 步：这是本服务器每次训练允许的上限"),
    "server_busy": ("The server is busy: a training run is in progress on {device} and {waiting} more are waiting. "
                    "Try again in a few minutes.",
                    "服务器繁忙：{device} 上正有一个训练任务在运行，另有 {waiting} 个在等待。请过几分钟再试。"),
    "busy_message": ("Busy: another session is training on {device}, {waiting} in queue.",
                     "繁忙：另一个会话正在 {device} 上训练，队列中有 {waiting} 个任务。"),
    "diverged": ("The loss diverged (NaN/inf): {error}. Try a lower learning rate.",
                 "损失发散（NaN/inf）：{error}。请尝试更低的学习率。"),
    "crashed": ("an error on the server (error id {error_id}); try again, and report the id if it happens again",
                "服务器出错（错误编号 {error_id}）；请重试，如果再次出现，请报告此编号"),
    # --- progress and curves (training_view) ----------------------------------------------------------------
    "seconds": ("{s} s", "{s} 秒"),
    "minutes": ("{m} min", "{m} 分钟"),
    "minutes_seconds": ("{m} min {s:02d} s", "{m} 分 {s:02d} 秒"),
    "duration_unknown": ("unknown", "未知"),
    "preparing": ("Preparing the run…", "正在准备训练…"),
    "progress_step": ("**Step {step} / {total}** ({pct:.0f} %)", "**第 {step} / {total} 步**（{pct:.0f} %）"),
    "progress_loss": ("loss **{loss:.3f}**", "损失 **{loss:.3f}**"),
    "progress_lr": ("lr {lr:.2e}", "学习率 {lr:.2e}"),
    "progress_speed": ("**{speed:.1f} images/s**", "**{speed:.1f} 张图像/秒**"),
    "progress_elapsed": ("elapsed {time}", "已用时 {time}"),
    "progress_eta": ("ETA **{time}**", "预计剩余 **{time}**"),
    "progress_device": ("device **{device}**, {params:.2f} M parameters, batch {batch}",
                        "设备 **{device}**，{params:.2f} M 个参数，批大小 {batch}"),
    "progress_memory": ("{line}, peak memory {mib:,.0f} MiB", "{line}，峰值内存 {mib:,.0f} MiB"),
    "progress_eval": ("Evaluation at step {step} on {images} images: {metrics}",
                      "第 {step} 步在 {images} 张图像上的评估：{metrics}"),
    "list_separator": (", ", "，"),
    "accuracy": ("accuracy", "准确率"),
    "title_total_loss": ("Total loss (weighted sum of the terms)", "总损失（各项加权和）"),
    "title_loss_terms": ("Loss terms, last decoder layer (dotted: aux layers)",
                         "各损失项，最后一个解码器层（点线：辅助层）"),
    "title_loss_terms_family": ("Loss terms (the model's own)", "各损失项（模型自身的）"),
    "title_ce_accuracy": ("Cross-entropy and batch accuracy", "交叉熵与批内准确率"),
    "title_lr": ("Learning rate", "学习率"),
    "title_val_ap": ("Validation AP", "验证集 AP"),
    "title_val_accuracy": ("Validation accuracy", "验证集准确率"),
    "axis_step": ("step", "步"),
    "trace_total": ("total", "总损失"),
    "trace_smoothed": ("total (smoothed)", "总损失（平滑）"),
    "trace_aux": ("{term} layer {layer}", "{term} 第 {layer} 层"),
    "trace_overlay_loss": ("{run}: total (smoothed)", "{run}：总损失（平滑）"),
    "trace_batch": ("batch {name}", "批内 {name}"),
    "trace_batch_accuracy": ("batch accuracy", "批内准确率"),
    "trace_lr": ("lr {name}", "学习率 {name}"),
    "no_evaluation": ("no evaluation", "没有评估"),
    "smoothing": ("Smoothing", "平滑"),
    "smoothing_info": ("of the loss curves (0: each step as it is)", "损失曲线的平滑程度（0：每一步的原始值）"),
    "log_scale": ("Log scale for losses", "损失用对数坐标"),
    "compare": ("Compare with", "与之对比"),
    "compare_info": ("finished runs drawn dashed beside this one (their smoothed loss and evaluations)",
                     "已结束的训练以虚线画在旁边（其平滑后的损失与评估结果）"),
    "run_label": ("run {n}: {kind}, {preset}, {steps} steps{final}",
                  "第 {n} 次训练：{kind}，{preset}，{steps} 步{final}"),
    "recorded_label": ("recorded: {kind}, {preset}, {steps} steps", "录制的训练：{kind}，{preset}，{steps} 步"),
    "recorded_status": (
        "**A recorded run** of the preset *{preset}* ({kind}), made before you came: {steps} steps in {elapsed} "
        "on {hardware} ({date}); final evaluation: {final}. Press **Start** to train your own; tick it under "
        "*Compare with* to see it beside yours.",
        "**一次录制的训练**：预设 *{preset}*（{kind}），在你到来之前完成："
        "{steps} 步，用时 {elapsed}，硬件 {hardware}（{date}）；最终评估：{final}。"
        "点击**开始训练**训练你自己的模型；在“与之对比”中勾选它，即可与你的训练并排比较。"),
    "snapshot_top_boxes": (
        "The best-scoring box is right (class, and IoU ≥ 0.5 with an object) on **{right} of {n}** images.",
        "得分最高的框在 **{n} 张中的 {right} 张**图像上正确（类别正确，且与某个目标的 IoU ≥ 0.5）。"),
    "snapshot_top_classes": ("The top class is right on **{right} of {n}** images.",
                             "概率最高的类别在 **{n} 张中的 {right} 张**图像上正确。"),
    "evaluated_every": ("evaluated every {every} steps and at the end", "每 {every} 步及训练结束时评估"),
    "evaluated_at_end": ("evaluated at the end of the run", "在训练结束时评估"),
    "snapshot_none": ("Snapshots of the predictions on fixed images appear here during the run.",
                      "训练过程中，固定图像上预测的快照会显示在这里。"),
    "snapshot_detr": ("**Step {step}**: each ground-truth object (white box) and the query the Hungarian matcher "
                      "assigns to it now: that query's predicted box, in the colour of the object's class, captioned "
                      "`q<query> <predicted class> <score>`. Watch the matching settle and the boxes close in as "
                      "training goes on.",
                      "**第 {step} 步**：每个真值目标（白框），以及匈牙利匹配此刻分配给它的目标查询：该查询的预测框，"
                      "颜色为该目标类别的颜色，标注为 `q<查询编号> <预测类别> <分数>`。随着训练进行，可以看到匹配逐渐"
                      "稳定、预测框逐渐贴合目标。"),
    "snapshot_family": ("**Step {step}**: each ground-truth object (white box) and the model's detections scoring at "
                        "least {min_score} (at most {max_boxes} per image, after the model's own NMS), in the colour "
                        "of their class, captioned `<class> <score>`.",
                        "**第 {step} 步**：每个真值目标（白框），以及模型得分不低于 {min_score} 的检测结果"
                        "（经模型自身的 NMS 后，每张图像最多 {max_boxes} 个），"
                        "颜色为其类别的颜色，标注为 `<类别> <分数>`。"),
    "snapshot_vit": ("**Step {step}**: the model's top class and its probability on fixed images (green: right, "
                     "red: wrong, with the true class).",
                     "**第 {step} 步**：模型在固定图像上概率最高的类别及其概率（绿色：正确；红色：错误，"
                     "并标出真实类别）。"),
})
