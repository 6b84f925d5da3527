process EPI_PRIORITIZE_GENES {
    tag "${meta.id}:${meta.model}:fold${meta.fold}"
    label 'process_gpu'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(model), path(store)

    output:
    tuple val(meta), path("${prefix}")            , emit: dir
    tuple val(meta), path("${prefix}/scores.tsv") , emit: scores
    path "versions.yml"                           , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_prioritize"
    """
    epi-prioritize epinformer \\
        --model ${model} \\
        --data ${store} \\
        --out ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_prioritize"
    """
    mkdir -p ${prefix}
    touch ${prefix}/scores.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
    END_VERSIONS
    """
}
