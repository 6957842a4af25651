# Writes tests/reference/flexmix_cem_poisson.json: flexmix's classification EM
# (classify = "CEM") and stochastic EM (classify = "SEM") on a three-component
# Poisson mixture, from a stored start partition.  Used by
# tests/test_classification_em_flexmix.py, which needs neither R nor this script.
#
# Run from the repository root:
#   Rscript tests/reference/make_flexmix_cem_reference.R
#
# The data and the start are drawn here (R's default RNG) and written to the
# file (the start is a rough one, so CEM moves rows for several iterations).  CEM runs to a repeated partition: a tolerance of 1e-13 on flexmix's
# relative log-likelihood change is met only when the partition stops changing
# (the M-step is then the same), and minprior = 0 keeps every component.

suppressPackageStartupMessages(library(flexmix))
library(jsonlite)

set.seed(2026)
n <- 300
truth <- list(weights = c(0.3, 0.4, 0.3), rates = c(2, 8, 20))
z <- sample(1:3, n, replace = TRUE, prob = truth$weights)
y <- rpois(n, truth$rates[z])
df <- data.frame(y = y)
# A rough start: cuts of y, with a fifth of the rows relabelled at random (a
# random partition of all rows would empty a component at the first CEM step).
start <- as.integer(cut(y, c(-Inf, 3, 10, Inf)))
flip <- sample(n, n / 5)
start[flip] <- sample(1:3, length(flip), replace = TRUE)

cem <- flexmix(y ~ 1, data = df, k = 3, cluster = start,
               model = FLXMRglm(family = "poisson"),
               control = list(classify = "CEM", tolerance = 1e-13, iter.max = 1000,
                              minprior = 0))
rates <- exp(unname(sapply(seq_len(cem@k), function(j) parameters(cem, component = j)[1])))

# SEM: the final rates of 50 seeded runs from the same start, sorted within each run.
sem_rates <- t(sapply(1:50, function(s) {
  set.seed(s)
  m <- flexmix(y ~ 1, data = df, k = 3, cluster = start,
               model = FLXMRglm(family = "poisson"),
               control = list(classify = "SEM", minprior = 0))
  sort(exp(unname(sapply(seq_len(m@k), function(j) parameters(m, component = j)[1]))))
}))

out <- list(
  provenance = paste0(
    "R ", R.version$major, ".", R.version$minor, ", flexmix ", packageVersion("flexmix"),
    "; tests/reference/make_flexmix_cem_reference.R"),
  truth = truth,
  y = y,
  start = start,
  cem = list(
    cluster = cem@cluster,
    rates = rates,
    size = unname(cem@size),
    iter = cem@iter,
    loglik = as.numeric(logLik(cem)),
    converged = cem@converged
  ),
  sem = list(
    control = "classify = 'SEM', minprior = 0, otherwise FLXcontrol's defaults",
    seeds = 1:50,
    sorted_rates = sem_rates,
    mean_sorted_rates = colMeans(sem_rates),
    sd_sorted_rates = apply(sem_rates, 2, sd)
  )
)
write_json(out, "tests/reference/flexmix_cem_poisson.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
