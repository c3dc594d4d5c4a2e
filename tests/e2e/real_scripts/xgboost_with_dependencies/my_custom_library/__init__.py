from .cross_validation_xgboost import *
