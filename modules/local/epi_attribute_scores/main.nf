process EPI_ATTRIBUTE_SCORES {
    tag "${meta.id}:${meta.model}"
    label 'process_gpu'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(model), path(store)

    output:
    tuple val(meta), path("${prefix}")                   , emit: dir
    tuple val(meta), path("${prefix}/attributions.npz")   , emit: attributions
    path "versions.yml"                                  , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_attributions"
    """
    epi-attribute scores \\
        --model ${model} \\
        --data ${store} \\
        --seed ${params.seed} \\
        --out ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_attributions"
    """
    mkdir -p ${prefix}
    touch ${prefix}/attributions.npz

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
    END_VERSIONS
    """
}
