# mclust's wreath data and what mclust 6.0.0 does with it.
#
# Writes tests/reference/mclust_wreath.csv (the data, 17 significant digits)
# and tests/reference/mclust_wreath.json, read by tests/test_mclust_parity.py.
# Run from the repository root:  Rscript tests/reference/make_wreath_reference.R
#
# The JSON holds hc(wreath, modelName = "VVV", use = "SVD")'s merge pairs
# (1-based, [i, j] with i < j per stage), the SVD-transformed data Z that hc
# agglomerated (attr(, "data")), hclass at G = 1:9, and Mclust(wreath)'s whole
# BIC table (G = 1:9 x mclust's 14 models; null where mclust reports NA).
suppressPackageStartupMessages(library(mclust))
library(jsonlite)

data(wreath)
X <- as.matrix(wreath)
dimnames(X) <- NULL

mat17 <- function(m) {
  rows <- apply(m, 1, function(r) paste0("[", paste(sprintf("%.17g", r), collapse = ","), "]"))
  structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}
num17 <- function(v) {
  structure(paste0("[", paste(ifelse(is.na(v), "null", sprintf("%.17g", v)), collapse = ","), "]"),
            class = "json")
}

csv <- "tests/reference/mclust_wreath.csv"
writeLines(c("x1,x2", apply(X, 1, function(r) paste(sprintf("%.17g", r), collapse = ","))), csv)

h <- hc(X, modelName = "VVV", use = "SVD")
Z <- attr(h, "data")
dimnames(Z) <- NULL
cl <- hclass(h, 1:9)
mc <- Mclust(X, G = 1:9, verbose = FALSE)
B <- unclass(mc$BIC)

out <- list(
  environment = list(
    R = R.version.string,
    mclust = as.character(packageVersion("mclust")),
    jsonlite = as.character(packageVersion("jsonlite")),
    platform = R.version$platform
  ),
  script = "tests/reference/make_wreath_reference.R",
  data = "mclust's data(wreath): 1000 x 2 (tests/reference/mclust_wreath.csv)",
  csv_md5 = unname(tools::md5sum(csv)),
  hc_call = 'hc(wreath, modelName = "VVV", use = "SVD")',
  Z = mat17(Z),
  pairs = unname(split(t(unclass(h))[, 1:2, drop = FALSE], seq_len(ncol(h)))),
  hclass_G = 1:9,
  hclass = unname(lapply(1:9, function(g) as.integer(cl[, g]))),
  mclust_call = "Mclust(wreath, G = 1:9)",
  G = as.integer(rownames(B)),
  models = colnames(B),
  bic = unname(lapply(seq_len(nrow(B)), function(i) num17(B[i, ]))),
  chosen_model = mc$modelName,
  chosen_G = as.integer(mc$G),
  loglik = structure(sprintf("%.17g", mc$loglik), class = "json")
)
writeLines(toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, digits = NA),
           "tests/reference/mclust_wreath.json")
