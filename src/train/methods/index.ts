/**
 * Every method, by name: train() and planStages() dispatch through this table. A method is one file
 * of its own maths; see ./recipe.ts for what a recipe is.
 */
import type { Method } from '../types.js';
import { dimml } from './di-mml.js';
import { jointRecipe, unimodalHeads } from './joint.js';
import { mmpareto } from './mmpareto.js';
import { ogmGe } from './ogm-ge.js';
import type { Recipe } from './recipe.js';
import { ensemble, unimodal } from './solo.js';
import { udi, udiPaper } from './udi.js';
import { umt } from './umt.js';

export const RECIPES: Readonly<Record<Method, Recipe>> = {
  udi,
  'udi-paper': udiPaper,
  unimodal,
  ensemble,
  joint: jointRecipe('joint', []),
  'joint+uni': jointRecipe('joint+uni', [unimodalHeads]),
  'ogm-ge': ogmGe,
  mmpareto,
  umt,
  'di-mml': dimml,
};
