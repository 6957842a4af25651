# mclust's first M-step from a hard partition with a small group (mclust 6.0.0).
#
# Writes tests/reference/mclust_start_cases.json, read by tests/test_mclust_parity.py.
# Run from the repository root:  Rscript tests/reference/make_mclust_start_reference.R
#
# Each case: 80 rows N(0, 1) and N(1.5, 1) in 6 dimensions (groups 1, 2 of 40)
# and a third group of m rows N(0.7, 0.8^2) among them.
#   vee: me(X, "VEE", z = unmap(cl)): NA or not (mclust's Cholesky test of the
#        small group's singular scatter; only the small group's rows are stored,
#        the other groups' scatters are positive definite)
#   eev, vev: estep(X, mstep(X, model, z = unmap(cl)))$loglik, the log-likelihood
#        after mclust's first M-step
suppressPackageStartupMessages(library(mclust))
library(jsonlite)

mat17 <- function(m) {
  rows <- apply(m, 1, function(r) paste0("[", paste(sprintf("%.17g", r), collapse = ","), "]"))
  structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}
make_x <- function(m) {
  rbind(matrix(rnorm(40 * 6), 40), matrix(rnorm(40 * 6, 1.5), 40),
        matrix(rnorm(m * 6, 0.7, 0.8), m))
}
labels <- function(m) c(rep(1, 40), rep(2, 40), rep(3, m))

set.seed(20261201)
vee <- list()
for (m in c(4, 5, 6)) for (r in 1:12) {
  X <- make_x(m)
  fit <- me(X, "VEE", z = unmap(labels(m)))
  vee[[length(vee) + 1]] <- list(m = m, na = is.na(fit$loglik), rows = mat17(X[81:(80 + m), ]))
}
oriented <- list()
for (model in c("EEV", "VEV")) for (m in c(3, 5)) for (r in 1:3) {
  X <- make_x(m)
  ms <- mstep(X, model, z = unmap(labels(m)))
  es <- do.call("estep", c(list(data = X), ms))
  oriented[[length(oriented) + 1]] <- list(
    model = model, m = m, X = mat17(X),
    loglik = structure(sprintf("%.17g", es$loglik), class = "json"))
}
out <- list(
  environment = list(R = R.version.string, mclust = as.character(packageVersion("mclust")),
                     lapack = La_library(), blas = unname(extSoftVersion()["BLAS"])),
  script = "tests/reference/make_mclust_start_reference.R",
  vee = vee, oriented = oriented)
writeLines(toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, digits = NA),
           "tests/reference/mclust_start_cases.json")
