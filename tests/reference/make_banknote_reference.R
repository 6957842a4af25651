# mclust's banknote data and Mclust's BIC tables on its six measurements.
#
# Writes tests/reference/mclust_banknote.csv (the six measurements of
# data(banknote), 17 significant digits; Status dropped) and
# tests/reference/mclust_banknote.json, read by tests/test_mclust_parity.py.
# Run from the repository root:  Rscript tests/reference/make_banknote_reference.R
#
# Tables (G = 1:9 x mclust's 14 models; null where mclust reports NA):
#   default:  Mclust(X, G = 1:9)                       emControl()$tol = c(1e-5, sqrt(eps))
#   tol_1e-8: Mclust(X, G = 1:9, control = emControl(tol = 1e-8))   tol = c(1e-8, 1e-8)
# and, per table, the iterations me() took in each cell from the same hc start.
suppressPackageStartupMessages(library(mclust))
library(jsonlite)

data(banknote)
X <- as.matrix(banknote[, -1])
cols <- colnames(X)
dimnames(X) <- NULL

num17 <- function(v) {
  structure(paste0("[", paste(ifelse(is.na(v), "null", sprintf("%.17g", v)), collapse = ","), "]"),
            class = "json")
}

csv <- "tests/reference/mclust_banknote.csv"
writeLines(c(paste(cols, collapse = ","),
             apply(X, 1, function(r) paste(sprintf("%.17g", r), collapse = ","))), csv)
X <- as.matrix(read.csv(csv))  # the table is of the data as the tests read them
dimnames(X) <- NULL

h <- hc(X, modelName = "VVV", use = "SVD")

table_of <- function(control, call) {
  mc <- Mclust(X, G = 1:9, control = control, verbose = FALSE)
  B <- unclass(mc$BIC)
  iters <- sapply(colnames(B), function(m) sapply(1:9, function(g) {
    if (g == 1) return(1L)
    z <- unmap(hclass(h, g)[, 1])
    fit <- me(data = X, modelName = m, z = z, control = control)
    if (is.na(fit$loglik)) NA_integer_ else as.integer(attr(fit, "info")[1])
  }))
  list(call = call, tol = control$tol, G = as.integer(rownames(B)), models = colnames(B),
       bic = unname(lapply(seq_len(nrow(B)), function(i) num17(B[i, ]))),
       iterations = unname(lapply(seq_len(nrow(iters)), function(i) as.integer(iters[i, ]))),
       chosen_model = mc$modelName, chosen_G = as.integer(mc$G))
}

# EEV at G = 9 (default control): one of the 9 hc groups has 5 rows in 6
# dimensions.  Record mstep's covariances from that partition, estep's z and
# me() from that z, to show where emstat and mclust part.
z9 <- unmap(hclass(h, 9)[, 1])
ms9 <- mstep(data = X, modelName = "EEV", z = z9)
es9 <- do.call("estep", c(list(data = X), ms9))
me9 <- me(data = X, modelName = "EEV", z = es9$z)
mat17 <- function(m) {
  rows <- apply(m, 1, function(r) paste0("[", paste(sprintf("%.17g", r), collapse = ","), "]"))
  structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}
small <- which.min(colSums(z9))
eev9 <- list(
  call = paste('ms <- mstep(X, "EEV", z = unmap(hclass(h, 9)[, 1])); es <- estep(X, ms);',
               'me(X, "EEV", z = es$z)'),
  group_sizes = as.integer(colSums(z9)),
  small_group = as.integer(small),
  small_group_orientation = mat17(ms9$parameters$variance$orientation[, , small]),
  shape = num17(ms9$parameters$variance$shape),
  estep_loglik = structure(sprintf("%.17g", es9$loglik), class = "json"),
  z = mat17(es9$z),
  me_loglik = structure(sprintf("%.17g", me9$loglik), class = "json"),
  me_iterations = as.integer(attr(me9, "info")[1])
)

out <- list(
  environment = list(
    R = R.version.string,
    mclust = as.character(packageVersion("mclust")),
    jsonlite = as.character(packageVersion("jsonlite")),
    platform = R.version$platform
  ),
  script = "tests/reference/make_banknote_reference.R",
  data = "mclust's data(banknote)[, -1]: 200 x 6 (tests/reference/mclust_banknote.csv)",
  csv_md5 = unname(tools::md5sum(csv)),
  pairs = unname(split(t(unclass(h))[, 1:2, drop = FALSE], seq_len(ncol(h)))),
  eev_g9_after_first_mstep = eev9,
  tables = list(
    default = table_of(emControl(), "Mclust(X, G = 1:9)"),
    tol_1e8 = table_of(emControl(tol = 1e-8),
                       "Mclust(X, G = 1:9, control = emControl(tol = 1e-8))")
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, digits = NA, na = "null"),
           "tests/reference/mclust_banknote.json")
