#!/usr/bin/env Rscript
# A SageMaker training container's program, in R: SageMaker runs the image as `docker run <image> train`.
#
# The /opt/ml contract: hyperparameters in input/config/hyperparameters.json (every value a string), one folder
# per channel under input/data/ (here: train and validation, CSV with the label in the first column and no
# header), the model written to model/ (uploaded as model.tar.gz), a failure reason in output/failure.
# Metrics are log lines that the job's MetricDefinitions match, e.g. "validation:auc=0.98".
#
# On SageMaker /opt/ml is /opt/ml. trainops' local cloud runs this file as the image's stand-in
# (algorithm.local_command) with SAGEMAKER_BASE_DIR pointing at a local copy of /opt/ml.
suppressPackageStartupMessages(library(jsonlite))

prefix <- Sys.getenv("SAGEMAKER_BASE_DIR", "/opt/ml")
input_dir <- file.path(prefix, "input", "data")
config_dir <- file.path(prefix, "input", "config")
model_dir <- file.path(prefix, "model")
failure_file <- file.path(prefix, "output", "failure")

fail <- function(message) {
  dir.create(dirname(failure_file), recursive = TRUE, showWarnings = FALSE)
  writeLines(message, failure_file)
  write(message, stderr())
  quit(status = 1)
}

read_channel <- function(name) {
  folder <- file.path(input_dir, name)
  files <- list.files(folder, pattern = "\\.csv$", full.names = TRUE, recursive = TRUE)
  if (length(files) == 0) fail(paste0("channel ", name, ": no .csv files in ", folder))
  parts <- lapply(files, function(f) read.csv(f, header = FALSE))
  frame <- do.call(rbind, parts)
  if (!all(sapply(frame, is.numeric))) fail(paste0("channel ", name, ": every column must be numeric (no header row)"))
  frame
}

auc <- function(labels, scores) {
  # the probability that a positive row scores above a negative one (Mann-Whitney)
  ranks <- rank(scores)
  positives <- sum(labels == 1)
  negatives <- sum(labels == 0)
  (sum(ranks[labels == 1]) - positives * (positives + 1) / 2) / (positives * negatives)
}

logloss <- function(labels, p) {
  p <- pmin(pmax(p, 1e-15), 1 - 1e-15)
  -mean(labels * log(p) + (1 - labels) * log(1 - p))
}

train <- function() {
  hyperparameters <- fromJSON(file.path(config_dir, "hyperparameters.json"))
  features <- as.integer(if (is.null(hyperparameters$features)) "10" else hyperparameters$features)
  train_frame <- read_channel("train")
  features <- min(features, ncol(train_frame) - 1)
  labels <- train_frame[[1]]
  if (!all(labels %in% c(0, 1))) fail("the label (first column) must be 0 or 1")
  x <- as.data.frame(scale(train_frame[, 2:(features + 1), drop = FALSE]))
  centers <- attr(scale(train_frame[, 2:(features + 1), drop = FALSE]), "scaled:center")
  scales <- attr(scale(train_frame[, 2:(features + 1), drop = FALSE]), "scaled:scale")
  x$label <- labels
  model <- suppressWarnings(glm(label ~ ., data = x, family = binomial()))
  train_p <- predict(model, newdata = x, type = "response")
  cat(sprintf("train:logloss=%.6f\n", logloss(labels, train_p)))
  if (dir.exists(file.path(input_dir, "validation"))) {
    validation <- read_channel("validation")
    vx <- as.data.frame(scale(validation[, 2:(features + 1), drop = FALSE], center = centers, scale = scales))
    vp <- predict(model, newdata = vx, type = "response")
    cat(sprintf("validation:auc=%.6f\n", auc(validation[[1]], vp)))
    cat(sprintf("validation:logloss=%.6f\n", logloss(validation[[1]], vp)))
  }
  dir.create(model_dir, recursive = TRUE, showWarnings = FALSE)
  saveRDS(list(model = model, centers = centers, scales = scales, features = features),
          file.path(model_dir, "model.rds"))
  cat("model saved to model/model.rds\n")
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) > 0 && args[[1]] == "train") {
  tryCatch(train(), error = function(e) fail(paste("training failed:", conditionMessage(e))))
} else {
  fail(paste("unknown command:", paste(args, collapse = " "), "(SageMaker runs the image with `train`)"))
}
