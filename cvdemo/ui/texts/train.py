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
    "preset": ("Preset", "预设"),
    "preset_tiny": ("tiny", "tiny（极小）"),
    "preset_small": ("small", "small（小型）"),
    # the presets' descriptions in italics (`cvdemo.training.presets`; the English is theirs, word for word)
    "preset_detr_tiny": ("*live CPU demo: 1-3 large shapes at 128 px, the backbone from detr-shapes (as DETR's "
                         "from ImageNet); loss falls in the first minute, first right boxes in about 3 minutes*",
                         "*CPU 现场演示：128 像素图像中 1–3 个大形状，主干网络取自 detr-shapes（如同 DETR 的主干"
                         "取自 ImageNet 预训练）；损失在第一分钟内下降，约 3 分钟出现第一批正确的框*"),
    "preset_detr_small": ("*the shipped checkpoint: 1-4 shapes at 128 px, sizes 0.15-0.6 of the image*",
                          "*随附检查点的配方：128 像素图像中 1–4 个形状，尺寸为图像的 0.15–0.6*"),
    "preset_vit_tiny": ("*live CPU demo: one shape per 64 px image, 2 blocks of width 96, hinted by detr-shapes' "
                        "backbone*",
                        "*CPU 现场演示：每张 64 像素图像一个形状，2 个宽度为 96 的 Transformer 块，"
                        "由 detr-shapes 的主干网络提供特征提示*"),
    "preset_vit_small": ("*the shipped checkpoint: one shape per 64 px image, 4 blocks of width 128, hinted by "
                         "detr-shapes' backbone*",
                         "*随附检查点的配方：每张 64 像素图像一个形状，4 个宽度为 128 的 Transformer 块，"
                         "由 detr-shapes 的主干网络提供特征提示*"),
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
    "title_total_loss": ("Total loss (grey: each step, black: smoothed)", "总损失（灰：每一步；黑：平滑后）"),
    "title_loss_terms": ("Loss terms, last decoder layer (dotted: aux layers)",
                         "各损失项，最后一个解码器层（点线：辅助层）"),
    "title_ce_accuracy": ("Cross-entropy and batch accuracy", "交叉熵与批内准确率"),
    "title_lr": ("Learning rate", "学习率"),
    "title_val_ap": ("Validation AP", "验证集 AP"),
    "title_val_accuracy": ("Validation accuracy", "验证集准确率"),
    "axis_step": ("step", "步"),
    "trace_total": ("total", "总损失"),
    "trace_smoothed": ("total (smoothed)", "总损失（平滑）"),
    "trace_aux": ("{term} layer {layer}", "{term} 第 {layer} 层"),
    "trace_batch": ("batch {name}", "批内 {name}"),
    "trace_batch_accuracy": ("batch accuracy", "批内准确率"),
    "trace_lr": ("lr {name}", "学习率 {name}"),
    "no_evaluation": ("no evaluation", "没有评估"),
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
    "snapshot_vit": ("**Step {step}**: the model's top class and its probability on fixed images (green: right, "
                     "red: wrong, with the true class).",
                     "**第 {step} 步**：模型在固定图像上概率最高的类别及其概率（绿色：正确；红色：错误，"
                     "并标出真实类别）。"),
})
