# Writes tests/reference/mclust_noise.json and mclust_noise_faithful.csv,
# mclust_noise_eruptions.csv: mclust's noise component (Mclust with
# initialization = list(noise = ...)) on Old Faithful with uniform outliers.
# Used by tests/test_noise_mclust.py, which needs neither R nor this script.
#
# Run from the repository root:
#   Rscript tests/reference/make_noise_reference.R
#
# The outliers are drawn here with a fixed seed (R's default RNG) uniformly
# in the bounding box of the data and written to the CSV files, with the
# noise start (the rows that were drawn as outliers) in column noise_start.

suppressPackageStartupMessages(library(mclust))
library(jsonlite)

set.seed(13)
box <- apply(faithful, 2, range)
outliers <- apply(box, 2, function(r) runif(60, r[1], r[2]))
X2 <- rbind(as.matrix(faithful), outliers)
start2 <- c(rep(FALSE, nrow(faithful)), rep(TRUE, 60))

erupt <- c(faithful$eruptions, runif(25, 0, 8))
start1 <- c(rep(FALSE, nrow(faithful)), rep(TRUE, 25))

cell <- function(X, g, m, start) {
  fit <- Mclust(X, G = g, modelNames = m, initialization = list(noise = start),
                verbose = FALSE)
  if (is.null(fit)) return(NULL)
  variance <- fit$parameters$variance
  # 1-D models keep sigmasq (one per component, or one for E); `$sigma` would match it partially
  sigma <- if (NCOL(X) == 1) array(rep_len(variance$sigmasq, g), c(1, 1, g)) else variance[["sigma"]]
  list(G = g, model = m, loglik = fit$loglik, bic = fit$bic, df = fit$df,
       pro = fit$parameters$pro,
       mean = unname(t(matrix(fit$parameters$mean, ncol = g))),
       sigma = if (is.null(sigma)) NULL else unname(lapply(seq_len(g), function(j)
         matrix(if (length(dim(sigma)) == 3) sigma[, , j] else sigma, ncol = ncol(as.matrix(X))))),
       classification = unname(fit$classification))
}

reference <- function(X, start, models, cells) {
  fit <- Mclust(X, G = 0:9, modelNames = models,
                initialization = list(noise = start), verbose = FALSE)
  bic <- unclass(fit$BIC)
  list(
    n = NROW(X), d = NCOL(X),
    Vinv = attr(fit$BIC, "Vinv"),
    hypvol = hypvol(X),
    bic_G = as.integer(rownames(bic)),
    bic_models = colnames(bic),
    bic = lapply(seq_len(nrow(bic)), function(i) unname(bic[i, ])),
    best = list(model = fit$modelName, G = fit$G, loglik = fit$loglik,
                bic = fit$bic, df = fit$df, pro = fit$parameters$pro,
                classification = unname(fit$classification)),
    cells = lapply(cells, function(c) cell(X, c[[1]], c[[2]], start))
  )
}

models2 <- mclust.options("emModelNames")
cells2 <- list(list(1, "VVV"), list(2, "VVV"), list(3, "EEE"), list(2, "EVE"),
               list(3, "VEE"), list(2, "VVE"), list(4, "EEV"), list(3, "VII"))
ref <- list(
  source = paste("mclust", packageVersion("mclust"), R.version.string),
  faithful = reference(X2, start2, models2, cells2),
  eruptions = reference(erupt, start1, c("E", "V"), list(list(2, "V"), list(3, "E")))
)
# Vinv given by the user (mclust's Vinv argument)
fitv <- Mclust(X2, G = 2, modelNames = "VVV", initialization = list(noise = start2),
               Vinv = 1e-4, verbose = FALSE)
ref$faithful_vinv <- list(Vinv = 1e-4, loglik = fitv$loglik, bic = fitv$bic,
                          pro = fitv$parameters$pro)

write.csv(data.frame(eruptions = X2[, 1], waiting = X2[, 2], noise_start = start2),
          "tests/reference/mclust_noise_faithful.csv", row.names = FALSE)
write.csv(data.frame(eruptions = erupt, noise_start = start1),
          "tests/reference/mclust_noise_eruptions.csv", row.names = FALSE)
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = TRUE),
           "tests/reference/mclust_noise.json")
