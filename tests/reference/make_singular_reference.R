# Writes tests/reference/mclust_singular.json: mclust's Mclust(X, G = 1:6)
# (all 14 models) on small 2-D data sets built to make some (model, G) cells
# singular, so that their BIC is NA.  Read by tests/mixture/test_singular.py.
#
# Run from the repository root:
#   Rscript tests/reference/make_singular_reference.R
#
# The data sets are tests/reference/singular_<name>.csv, made by
# make_data() in tests/mixture/test_singular.py (seeded numpy; every value is
# a dyadic rational, so the CSV text is read back exactly by R and by Python):
#   collinear   50 normal points + 8 points exactly on the line y = x
#   constant    40 normal points + 20 points with the same y = 4
#   duplicates  45 normal points + (4, 4) four times and (-4, 3.5) three times
#   tiny        two normal clouds (65 points) scaled by 2^-17 (about 7.6e-6)
#
# For each: the BIC table (NA as null), attr(BIC, "returnCodes"), the chosen
# model and G, and the versions.  Numbers are written with 17 significant
# digits (jsonlite itself stops at 15).

suppressPackageStartupMessages(library(mclust))
library(jsonlite)

names <- c("collinear", "constant", "duplicates", "tiny")
bits <- c(collinear = 8, constant = 8, duplicates = 8, tiny = 8 + 17)

num17 <- function(v) {
  ifelse(is.na(v), "null", sprintf("%.17g", v))
}
matrix_json <- function(m) {
  rows <- apply(m, 1, function(r) paste0("[", paste(num17(r), collapse = ","), "]"))
  structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}

out <- list(
  description = paste(
    "Mclust(X, G = 1:6) with all 14 models on tests/reference/singular_<name>.csv;",
    "NA BIC (null) marks a singular fit; written by make_singular_reference.R"
  ),
  mclust = as.character(packageVersion("mclust")),
  R = R.version.string,
  datasets = list()
)

for (name in names) {
  csv <- sprintf("singular_%s.csv", name)
  X <- as.matrix(read.csv(file.path("tests/reference", csv)))
  dimnames(X) <- list(NULL, colnames(X))
  # the text was read back exactly: every value is a multiple of 2^-bits
  scaled <- X * 2^bits[[name]]
  stopifnot(all(scaled == round(scaled)))
  mc <- Mclust(X, G = 1:6, verbose = FALSE)
  bic <- mc$BIC
  codes <- attr(bic, "returnCodes")
  out$datasets[[name]] <- list(
    csv = csv,
    n = nrow(X),
    d = ncol(X),
    G = as.integer(rownames(bic)),
    modelNames = colnames(bic),
    bic = matrix_json(unclass(bic)[, , drop = FALSE]),
    returnCodes = structure(
      paste0("[", paste(apply(codes, 1, function(r) {
        paste0("[", paste(as.integer(r), collapse = ","), "]")
      }), collapse = ","), "]"),
      class = "json"
    ),
    chosen = list(modelName = mc$modelName, G = as.integer(mc$G),
                  bic = structure(num17(mc$bic), class = "json"),
                  loglik = structure(num17(mc$loglik), class = "json"))
  )
}

writeLines(toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE),
           "tests/reference/mclust_singular.json")
